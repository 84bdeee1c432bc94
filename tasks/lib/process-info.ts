/** Process identity: a pid plus its start time, so a reused pid is never mistaken for our process. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields restart after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    if (state === 'Z' || state === 'X') return null; // a zombie has finished
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether the process `pid` that started at `startTime` is still running. */
export function isProcessAlive(pid: number, startTime: string): boolean {
  return processStartTime(pid) === startTime;
}

/** Whether any process of the group `pgid` is still running (a killed leader may leave children). */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Parent pid and process group of `pid` (Linux: /proc; elsewhere `ps`), or null when it is gone. */
function parentAndGroupOf(pid: number): { readonly ppid: number; readonly pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state, ppid, pgrp, …
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), pgrp: Number(pgrp) };
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
