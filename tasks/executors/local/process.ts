/** Agent processes: started detached in their own process group, outliving the runner, exit code kept in a file. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIMITS, readTail } from '../../lib/bounded-text.ts';
import { ancestorGroupsOf, isGroupAlive, isProcessAlive, processStartTime } from '../../lib/process-info.ts';
import type { AgentOutput, LaunchSpec } from '../../agents/types.ts';

/** The files of one agent run. */
export interface RunFiles {
  readonly stdout: string;
  readonly stderr: string;
  readonly exit: string;
  readonly pid: string;
}

/** Files of run `name` (e.g. `item-1`) under `dir`. */
export function runFilesOf(dir: string, name: string): RunFiles {
  return {
    stdout: path.join(dir, `${name}.stdout`),
    stderr: path.join(dir, `${name}.stderr`),
    exit: path.join(dir, `${name}.exit`),
    pid: path.join(dir, `${name}.pid`),
  };
}

/** A started process: enough to find it again. */
export interface StartedProcess {
  readonly pid: number;
  readonly startTime: string;
}

/** A process this one started: also when its leader shell exits (it has written the exit file by then). */
export interface SpawnedProcess extends StartedProcess {
  readonly exited: Promise<void>;
}

// The leader shell runs the agent with stdin from a file (the prompt) or /dev/null and output in files, then writes
// the exit code and its own pid atomically, so a runner that restarts can read the result of an agent that finished
// without it, and a runner that knows the pid never takes an exit file an earlier process left for its own. Output
// is redirected before input, so a missing input file is reported in the stderr file. An exit code that cannot be
// written (a full disk) leaves no temp file: the run then reads as one that died without a result.
const WRAPPER =
  'printf "%s\\n" "$$" >"$WM_PID"; "$@" >"$WM_OUT" 2>"$WM_ERR" <"$WM_IN"; code=$?; ' +
  '{ printf "%s %s\\n" "$code" "$$" >"$WM_EXIT.tmp" && mv "$WM_EXIT.tmp" "$WM_EXIT"; } || rm -f "$WM_EXIT.tmp"';

/** NUL cannot be in an argument or an environment value (spawn throws); nothing else is changed. */
const noNul = (value: string): string => value.replace(/\0/g, '');

/** Start `spec` in `cwd`, detached in a new process group (pgid = pid). */
export async function startDetached(
  spec: LaunchSpec,
  cwd: string,
  files: RunFiles,
  env: NodeJS.ProcessEnv,
): Promise<SpawnedProcess> {
  mkdirSync(path.dirname(files.stdout), { recursive: true });
  const safeEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries({ ...env, ...spec.env }))
    if (value !== undefined) safeEnv[name] = noNul(value);
  const child = spawn('sh', ['-c', WRAPPER, 'sh', noNul(spec.file), ...spec.args.map(noNul)], {
    cwd,
    detached: true,
    stdio: 'ignore',
    env: {
      ...safeEnv,
      WM_OUT: files.stdout,
      WM_ERR: files.stderr,
      WM_EXIT: files.exit,
      WM_PID: files.pid,
      WM_IN: spec.stdinFile ?? '/dev/null',
    },
  });
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid as number));
    child.once('error', reject);
  });
  // Unreferenced: a runner may exit while its agents run on. The event still comes while the runner waits.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.unref();
  return { pid, startTime: processStartTime(pid) ?? '', exited };
}

/** Remove the files of an earlier run of the same name (exit code first: it is what says "finished"). */
export async function clearRunFiles(files: RunFiles): Promise<void> {
  for (const file of [files.exit, `${files.exit}.tmp`, files.pid, files.stdout, files.stderr])
    await rm(file, { force: true });
}

/**
 * The exit code the wrapper wrote (`<code> <pid>`; older wrappers wrote `<code>` alone), or null when the run has
 * not ended (or died without writing it). With `pid`, only an exit code that process wrote counts.
 */
export function readExitCode(files: RunFiles, pid?: number): number | null {
  // Bounded like every file an agent can write to (its environment names this one).
  const text = readTail(files.exit, 4096).text;
  const [codeText = '', pidText = ''] = text.trim().split(/\s+/);
  const code = Number.parseInt(codeText, 10);
  if (Number.isNaN(code)) return null;
  if (pid !== undefined && Number.parseInt(pidText, 10) !== pid) return null;
  return code;
}

/** The pid the wrapper wrote when it started (to find an agent whose start was not recorded), or null. */
export function readPidFile(files: RunFiles): StartedProcess | null {
  if (!existsSync(files.pid)) return null;
  const pid = Number.parseInt(readTail(files.pid, 4096).text.trim(), 10);
  const startTime = Number.isNaN(pid) ? null : processStartTime(pid);
  return startTime ? { pid, startTime } : null;
}

/**
 * A run's output: the last LIMITS.stdoutTailBytes of stdout (the report is at the end) and LIMITS.stderrTailBytes of
 * stderr, read at an offset, so an agent that printed gigabytes costs the runner no more than that (missing = empty).
 */
export function readOutput(files: RunFiles): AgentOutput {
  const stdout = readTail(files.stdout, LIMITS.stdoutTailBytes);
  const stderr = readTail(files.stderr, LIMITS.stderrTailBytes);
  // An agent can put a pipe (or anything) where its output file was: it reads as empty, and the failure says why.
  const replaced = [files.stdout, files.stderr].filter(
    (f) => statSync(f, { throwIfNoEntry: false })?.isFile() === false,
  );
  const note = replaced.map((f) => `\n${f} is not a regular file (replaced while the agent ran?): it was not read`);
  return { stdout: stdout.text, stderr: stderr.text + note.join(''), stdoutFile: files.stdout };
}

/** Whether the process (or anything left in its group) still runs. */
export function isRunning(proc: StartedProcess): boolean {
  return isProcessAlive(proc.pid, proc.startTime) || isGroupAlive(proc.pid);
}

/**
 * How long the group may take to be gone after SIGKILL. A member the runner may not signal (another user's: a
 * daemon an agent started with `sudo`) keeps the group alive for `kill` as long as it runs, and a process in
 * uninterruptible sleep ends only when its I/O does: neither may hold the run for ever.
 */
const KILL_WAIT_MS = 5000;

/**
 * SIGTERM the whole group, then SIGKILL after `graceMs`; resolves when nothing of the group is left, or
 * KILL_WAIT_MS after the SIGKILL with whatever could not be ended still there.
 */
export async function killGroup(pid: number, graceMs = 3000): Promise<void> {
  // `kill(-0)` would signal the runner's own group, `kill(-1)` every process it may signal; a reused pid may lead the
  // group of the runner or of the shell that started it.
  if (!Number.isInteger(pid) || pid <= 1 || ancestorGroupsOf(process.pid).has(pid)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  // Looks 1, 2, 4 … 50 ms apart: the usual group (a wrapper shell that has just written its exit code) is gone
  // within a millisecond, and a run collects an agent per item.
  let pause = 1;
  const next = () => sleep((pause = Math.min(50, pause * 2)) / 2);
  const deadline = Date.now() + graceMs;
  while (isGroupAlive(pid) && Date.now() < deadline) await next();
  if (!isGroupAlive(pid)) return;
  signal('SIGKILL');
  const killed = Date.now() + KILL_WAIT_MS;
  while (isGroupAlive(pid) && Date.now() < killed) await next();
}
