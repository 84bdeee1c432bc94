/** Finding and killing the processes a test started (by a marker in their command line, or as recorded in state). */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ancestorGroupsOf } from '../../tasks/lib/process-info.ts';
import { readStateFile } from './state-files.ts';

/** Processes whose command line contains `marker`, as `pid pgid args` lines (this ps excluded). */
export function processesWith(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,pgid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !/\bps -eo\b/.test(l));
}

/**
 * SIGKILL a process (or, with a negative pid, a process group); nothing when it is gone already, and never this
 * process, nor a group this process or one above it belongs to.
 */
export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (Math.abs(pid) <= 1 || pid === process.pid) return;
  // Pids wrap around: a pid an agent recorded long ago may by now lead this test run's group, or its runner's.
  if (pid < 0 && ancestorGroupsOf(process.pid).has(-pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Kill (SIGKILL, by pid) every process whose command line contains `marker`: a failed test leaves none behind. */
export function killProcessesWith(marker: string): void {
  for (const line of processesWith(marker)) killQuietly(Number(line.trim().split(/\s+/)[0]));
}

/** SIGKILL the process groups of agents recorded as running in state (cleanup after a failed test). */
export function killRecordedAgents(stateFile: string): void {
  if (!existsSync(stateFile)) return;
  const state = readStateFile({ stateDir: path.dirname(stateFile) }) as {
    items: Record<string, { process: { pid: number } | null }>;
  };
  for (const it of Object.values(state.items)) if (it.process) killQuietly(-it.process.pid);
}

/** Whether `pid` runs (a zombie, finished but not yet reaped, does not). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}
