/** Process identity: a pid plus its start time, so a reused pid is never mistaken for our process. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { oneLine } from './bounded-text.ts';

/** Start time from `ps` where there is no /proc (macOS, BSD): its `lstart` text, or null when the process is gone. */
function startTimeFromPs(pid: number): string | null {
  try {
    const out = execFileSync('ps', ['-o', 'stat=,lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (!out || out.startsWith('Z')) return null;
    return oneLine(out.replace(/^\S+\s+/, ''));
  } catch {
    return null;
  }
}

/** Start time of a process as an opaque string (Linux: clock ticks since boot from /proc), or null when it is gone. */
export function processStartTime(pid: number): string | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  if (!existsSync('/proc/self/stat')) return startTimeFromPs(pid);
  try {
    const proc = readProcStat(pid);
    return isFinishedState(proc.state) ? null : proc.startTime;
  } catch {
    return null;
  }
}

/** Whether the process `pid` that started at `startTime` is still running. */
export function isProcessAlive(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/**
 * Whether any process of the group `pgid` is still running (a killed leader may leave children). Finished processes
 * not yet reaped (zombies) do not count: `kill` still finds them, and an orphan waits for its reaping as long as the
 * machine's PID 1 takes (seconds in some containers, for ever under a PID 1 that is no init).
 */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !onlyFinishedIn(pgid);
}

/** What the runner reads of a process's /proc stat line. */
export interface ProcStat {
  readonly pid: number;
  /** The command name (at most 15 characters). */
  readonly command: string;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot. */
  readonly startTime: string | null;
}

/** /proc/<pid>/stat of `pid`; throws when it is gone. */
function readProcStat(pid: number | string): ProcStat {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and ')': the other fields restart after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    pid: Number(pid),
    command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: fields[19] ?? null,
  };
}

/** The pids /proc lists (Linux; none elsewhere). */
function procPids(): string[] {
  if (!existsSync('/proc/self/stat')) return [];
  try {
    return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
}

/** Every process /proc lists (Linux; none elsewhere), those that ended between the listing and the read left out. */
export function listProcesses(): ProcStat[] {
  return procPids().flatMap((pid) => {
    try {
      return [readProcStat(pid)];
    } catch {
      return [];
    }
  });
}

/**
 * The live processes (Linux: /proc; none elsewhere) whose environment, as they were started, holds `name=value`:
 * everything started under it, also what left its process group and session (`setsid`), unless it cleared its
 * environment. Processes of other users, whose environment cannot be read, are left out.
 */
export function processesWithEnvironment(name: string, value: string): ProcStat[] {
  const wanted = Buffer.from(`${name}=${value}\0`);
  // The environment first: only a process that matches has its stat read.
  return procPids().flatMap((pid) => {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`);
      // A match at the start of the block or right after another variable's NUL: never inside a value.
      let found = false;
      for (let at = environ.indexOf(wanted); at !== -1 && !found; at = environ.indexOf(wanted, at + 1))
        found = at === 0 || environ[at - 1] === 0;
      if (!found) return [];
      const stat = readProcStat(pid);
      return isFinishedState(stat.state) ? [] : [stat];
    } catch {
      return [];
    }
  });
}

/** A zombie (finished, not reaped yet) or a dead process. */
export const isFinishedState = (state: string): boolean => state === 'Z' || state === 'X';

/**
 * Whether every process of the group that `kill` found has finished (Linux: /proc). The leader is looked at first: a
 * live leader (a running agent's wrapper) settles it with one read; only a gone or finished one means a look at
 * every process. False where there is no /proc: the group counts as alive, as `kill` says.
 */
function onlyFinishedIn(pgid: number): boolean {
  if (!existsSync('/proc/self/stat')) return false;
  try {
    const leader = readProcStat(pgid);
    if (leader.pgrp === pgid && !isFinishedState(leader.state)) return false;
  } catch {
    // the leader is gone: its children may live on
  }
  return !listProcesses().some((p) => p.pgrp === pgid && !isFinishedState(p.state));
}

/** Parent pid and process group of `pid` (Linux: /proc; elsewhere `ps`), or null when it is gone. */
function parentAndGroupOf(pid: number): { readonly ppid: number; readonly pgrp: number } | null {
  try {
    const { ppid, pgrp } = readProcStat(pid);
    return { ppid, pgrp };
  } catch {
    try {
      const out = execFileSync('ps', ['-o', 'ppid=,pgid=', '-p', String(pid)], { encoding: 'utf8', stdio: 'pipe' });
      const [ppid, pgrp] = out.trim().split(/\s+/).map(Number);
      return Number.isInteger(ppid) && Number.isInteger(pgrp) ? { ppid: ppid as number, pgrp: pgrp as number } : null;
    } catch {
      return null;
    }
  }
}

/**
 * The process groups of `pid` and of every process above it (the user's shell, a CI job). Pids wrap around (at 32768
 * on small machines): a pid an agent wrote long ago may by now lead one of these groups, and signalling it would hit
 * the runner's own caller.
 */
export function ancestorGroupsOf(pid: number): ReadonlySet<number> {
  const groups = new Set<number>();
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    const info = parentAndGroupOf(p);
    if (!info) break;
    groups.add(info.pgrp);
    p = info.ppid;
  }
  return groups;
}
