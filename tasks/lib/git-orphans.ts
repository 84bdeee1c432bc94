/**
 * Git processes a killed runner left behind. A SIGKILLed runner's git children run on (a merge, a commit in the
 * integration worktree) and finish a few milliseconds later; a runner that takes over its lock at once (a supervisor
 * restarting it) must not work in that worktree before they end, or the two writers interleave. Read from /proc
 * (Linux); elsewhere nothing is found and nothing is waited for.
 */
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinishedState, listProcesses } from './process-info.ts';

/** A git process and the folder it works in. */
export interface GitProcess {
  readonly pid: number;
  readonly cwd: string;
}

/** Git processes whose working folder is `dir` or below it, except those of the process groups `exceptGroups`. */
export function gitProcessesIn(dir: string, exceptGroups: ReadonlySet<number>): GitProcess[] {
  const root = path.resolve(dir);
  const found: GitProcess[] = [];
  for (const proc of listProcesses()) {
    if (proc.command !== 'git' || isFinishedState(proc.state) || exceptGroups.has(proc.pgrp)) continue;
    try {
      const cwd = readlinkSync(`/proc/${proc.pid}/cwd`);
      if (cwd === root || cwd.startsWith(`${root}/`)) found.push({ pid: proc.pid, cwd });
    } catch {
      // Gone meanwhile, or another user's: not ours either way.
    }
  }
  return found;
}

/**
 * Wait until no git process of those found now in `dir` is left (at most `timeoutMs`); what still runs then is
 * returned. `onWait` is told once, before waiting, which processes are waited for.
 */
export async function waitForGitIn(
  dir: string,
  exceptGroups: ReadonlySet<number>,
  options: { readonly timeoutMs: number; readonly onWait: (found: readonly GitProcess[]) => void },
): Promise<GitProcess[]> {
  const first = gitProcessesIn(dir, exceptGroups);
  if (first.length === 0) return [];
  options.onWait(first);
  const pids = new Set(first.map((p) => p.pid));
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const left = gitProcessesIn(dir, exceptGroups).filter((p) => pids.has(p.pid));
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(50);
  }
}
