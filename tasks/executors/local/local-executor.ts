/**
 * The local executor: each agent a detached process group on this machine, its files under the milestone's state
 * folder (docs/executors.md). A handle names the files; the pid file and the exit file say the rest, so a runner that
 * restarts finds its agents from the handles in state alone.
 */
import { existsSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adapterFor } from '../../agents/adapters.ts';
import { readTail } from '../../lib/bounded-text.ts';
import { isGroupAlive, isProcessAlive, processStartTime } from '../../lib/process-info.ts';
import type { AgentHandle, AgentRunResult, AgentStatus, DispatchSpec, Executor, LocalHandle } from '../types.ts';
import { stopEscaped } from './escaped.ts';
import { isWrapperAlive, liveAgentOf } from './live-agents.ts';
import { noResult } from '../no-result.ts';
import {
  clearRunFiles,
  killGroup,
  readExitCode,
  readOutput,
  runFilesOf,
  startDetached,
  type RunFiles,
} from './process.ts';
import { writeOwnFile } from '../../lib/own-file.ts';

/** The run files a local handle names. */
export function filesOf(handle: Pick<AgentHandle, 'dir' | 'name'>): RunFiles {
  return runFilesOf(handle.dir, handle.name);
}

/** Written before its group is killed: a run without exit code and with this file was cancelled, not lost. */
function cancelFileOf(handle: Pick<AgentHandle, 'dir' | 'name'>): string {
  return path.join(handle.dir, `${handle.name}.cancelled`);
}

/** The pid its wrapper wrote, or null (not started, or an unreadable file). */
function readPid(files: RunFiles): number | null {
  if (!existsSync(files.pid)) return null;
  const pid = Number.parseInt(readTail(files.pid, 64).text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
}

/**
 * Agents this process started, by run files: a waiting runner wakes on the exit instead of its next look. An entry
 * stays after the exit (a settled promise, one per agent the run started): an agent that ended before its runner
 * began to wait must not cost a polling interval.
 */
const exits = new Map<string, Promise<void>>();

/** Resolves when an agent this process started has exited; null for any other (re-attached, another runner's). */
function ended(handle: AgentHandle): Promise<void> | null {
  return exits.get(filesOf(handle).pid) ?? null;
}

/** How long `dispatch` waits for a started wrapper to write its pid file (it is its first command). */
const PID_FILE_WAIT_MS = 10_000;

async function dispatch(spec: DispatchSpec, record: (handle: AgentHandle) => Promise<void>): Promise<AgentHandle> {
  const handle: LocalHandle = { kind: 'local', id: spec.id, agent: spec.agent, dir: spec.dir, name: spec.name };
  const files = filesOf(handle);
  // Files an earlier run of the same name left would be read as this one's; they go before the handle is recorded.
  await clearRunFiles(files);
  await rm(cancelFileOf(handle), { force: true });
  await record(handle);
  const started = await startDetached(spec.launch, spec.cwd, files, spec.env);
  exits.set(files.pid, started.exited);
  // Once its pid file is there, `poll` knows it from its files alone (a runner that dies now loses nothing).
  // Looks 1, 2, 4 … 16 ms apart: the wrapper writes the file as its first command, usually within a millisecond.
  const deadline = Date.now() + PID_FILE_WAIT_MS;
  let pause = 1;
  while (readPid(files) === null && isProcessAlive(started.pid, started.startTime) && Date.now() < deadline) {
    await sleep(pause);
    pause = Math.min(16, pause * 2);
  }
  return handle;
}

/** What the agent has printed so far, stdout and stderr together. */
function outputBytesOf(files: RunFiles): number {
  return [files.stdout, files.stderr].reduce(
    (sum, file) => sum + (statSync(file, { throwIfNoEntry: false })?.size ?? 0),
    0,
  );
}

async function poll(handle: AgentHandle): Promise<AgentStatus> {
  const files = filesOf(handle);
  const cancelled = existsSync(cancelFileOf(handle));
  const pid = readPid(files);
  if (pid === null) return cancelled ? { state: 'cancelled' } : { state: 'lost', reason: 'it never started' };
  const ended = (code: number): AgentStatus => {
    const outputBytes = outputBytesOf(files);
    return code === 0 ? { state: 'succeeded', outputBytes } : { state: 'failed', exitCode: code, outputBytes };
  };
  // An exit code its own wrapper wrote wins over a cancel that came too late.
  const code = readExitCode(files, pid);
  if (code !== null) return ended(code);
  const live = liveAgentOf(files.pid, 0);
  if (live) {
    const startedAt = live.startedAt;
    return { state: 'running', pid, startedAt, outputBytes: outputBytesOf(files) };
  }
  // It may have written its exit code between the two reads.
  const late = readExitCode(files, pid);
  if (late !== null) return ended(late);
  return cancelled ? { state: 'cancelled' } : { state: 'lost', reason: 'its process is gone without an exit code' };
}

/**
 * Whether the process group `pid` is still the agent's: its wrapper is alive (same pid and start time as it recorded),
 * or the wrapper is gone and the group lives on through what it left behind. A live process with the wrapper's pid
 * after the wrapper ended is another program that reused the pid (pids wrap around): never ours to kill.
 */
function ownsGroup(files: RunFiles, pid: number): boolean {
  // The wrapper may be alive still, between writing its exit code and exiting: it is ours all the same.
  return processStartTime(pid) === null ? isGroupAlive(pid) : isWrapperAlive(files.pid, pid);
}

async function collect(handle: AgentHandle): Promise<AgentRunResult> {
  const files = filesOf(handle);
  const pid = readPid(files);
  // Whatever it left running in its process group (a server, a stray `cmd &`) goes with it.
  if (pid !== null && ownsGroup(files, pid)) await killGroup(pid, 1000);
  // And what it started that left the group: after the group, so nothing of it forks a new one meanwhile.
  const left = await stopEscaped(files.pid);
  const result = await collectEnded(handle, files);
  return left.length > 0 ? { ...result, left } : result;
}

async function collectEnded(handle: AgentHandle, files: RunFiles): Promise<AgentRunResult> {
  const status = await poll(handle);
  switch (status.state) {
    case 'succeeded':
    case 'failed': {
      const exitCode = status.state === 'succeeded' ? 0 : status.exitCode;
      return { exitCode, outcome: adapterFor(handle.agent).parse({ ...readOutput(files), exitCode }) };
    }
    case 'cancelled':
      return { exitCode: null, outcome: noResult('the agent was stopped') };
    case 'lost':
      return { exitCode: null, outcome: noResult(`the agent process died without a result (${status.reason})`) };
    case 'queued':
    case 'running':
      return { exitCode: null, outcome: noResult('internal: collected while it still runs') };
  }
}

async function cancel(handle: AgentHandle): Promise<void> {
  await writeOwnFile(cancelFileOf(handle), `${new Date().toISOString()}\n`);
  const pid = readPid(filesOf(handle));
  if (pid !== null && ownsGroup(filesOf(handle), pid)) await killGroup(pid, 2000);
  await stopEscaped(filesOf(handle).pid);
}

/** Agents as detached process groups of this machine. */
export const localExecutor: Executor = { kind: 'local', dispatch, poll, collect, cancel, ended };
