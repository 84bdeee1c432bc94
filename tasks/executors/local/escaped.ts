/**
 * What an agent left running outside its process group. Killing the group stops `cmd &` and `nohup`, but a process
 * that called `setsid` (a daemonizing dev server, `setsid cmd &`) is in a group and session of its own, and would run
 * on for the rest of the milestone and after it: holding ports the next agents need, writing into worktrees. Every
 * process of an agent carries its wrapper's `WM_PID` (the pid file's path, unique to one run of one agent) in the
 * environment it was started with, which is how they are found (Linux: /proc). One that cleared its environment is
 * out of reach (docs/guarantees.md).
 */
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ancestorGroupsOf, processesWithEnvironment, type ProcStat } from '../../lib/process-info.ts';
import type { LeftProcess } from '../types.ts';
import { firstOf } from '../../lib/bounded-text.ts';

/** How long stopped processes get to exit after SIGTERM, and to be gone after SIGKILL. */
const TERM_GRACE_MS = 1000;
const KILL_WAIT_MS = 2000;

/**
 * Stop every process started under the agent whose pid file is `pidFile` that still runs (or, with `variable`, every
 * one started with that variable at that value: a gate run's `WM_GATES`): SIGTERM, then SIGKILL after a grace. Found
 * again on every look, so what they fork meanwhile goes too. Never the runner or what started it. Resolves with what
 * it found, once they are gone (or, for a process that even SIGKILL does not end at once, a process in
 * uninterruptible sleep, after a bounded wait).
 */
export async function stopEscaped(
  pidFile: string,
  variable = 'WM_PID',
  only: (pid: number) => boolean = () => true,
): Promise<readonly LeftProcess[]> {
  const spared = new Set([process.pid, ...ancestorGroupsOf(process.pid)]);
  const find = (): ProcStat[] =>
    processesWithEnvironment(variable, pidFile).filter((p) => !spared.has(p.pid) && only(p.pid));
  let left = find();
  if (left.length === 0) return [];
  const found = new Map<number, LeftProcess>();
  const signal = (sig: NodeJS.Signals) => {
    for (const p of left) {
      found.set(p.pid, { pid: p.pid, command: p.command });
      try {
        process.kill(p.pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  };
  let pause = 1;
  const next = () => sleep((pause = Math.min(50, pause * 2)));
  for (const [sig, waitMs] of [
    ['SIGTERM', TERM_GRACE_MS],
    ['SIGKILL', KILL_WAIT_MS],
  ] as const) {
    const deadline = Date.now() + waitMs;
    while (left.length > 0 && Date.now() < deadline) {
      signal(sig);
      await next();
      left = find();
    }
    if (left.length === 0) break;
  }
  return [...found.values()].sort((a, b) => a.pid - b.pid);
}

/** Whether process `pid` writes its stdout or stderr to `file` (Linux: /proc). */
export function writesTo(pid: number, file: string): boolean {
  const target = path.resolve(file);
  return [1, 2].some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
    } catch {
      return false;
    }
  });
}

/**
 * `2 processes it left running outside its process group were stopped: 4242 sleep, 4250 node` (`who`: "it", or
 * "the gates" and "their").
 */
export function describeLeftProcesses(left: readonly LeftProcess[], who = 'it', whose = 'its'): string {
  const what = left.length === 1 ? `1 process ${who} left running` : `${left.length} processes ${who} left running`;
  const were = left.length === 1 ? 'was' : 'were';
  const names = firstOf(left.map((p) => `${p.pid} ${p.command}`));
  return `${what} outside ${whose} process group (setsid) ${were} stopped: ${names}`;
}
