/**
 * The agents of a milestone that still run, found through the pid files their wrappers write
 * (`items/<issue>/item-<k>.pid`,
 * conflict and fix sessions under `items/` and `gates/`), whatever state.json says or lost. Each wrapper writes its pid
 * file first and its exit file last: a pid file without an exit file whose process (or process group) lives is an agent
 * at work. A pid reused by another program is told apart by its start time (never after its pid file was written) and,
 * where /proc shows it, by the pid file named in its environment.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { readExitCode, runFilesOf } from './process.ts';
import { isGroupAlive, processStartTime } from '../../lib/process-info.ts';
import { readRegularFileHeadSync } from '../../lib/regular-file.ts';

/** One agent process found through its pid file. */
export interface LiveAgent {
  readonly pidFile: string;
  readonly pid: number;
  /** Start time of its wrapper process ('' when the wrapper is gone and only its process group lives on). */
  readonly startTime: string;
  /**
   * When it started: its wrapper's start as the kernel keeps it (never the pid file's time, which the agent can set:
   * its environment names the file, and a time in the future would turn its time limit off); the pid file's time, at
   * most now, only when the wrapper is gone.
   */
  readonly startedAt: string;
  /** An item's attempt (`item-<k>`) or a conflict / fix session. */
  readonly kind: 'item' | 'session';
  /** The item it works on (0 for the milestone's gate fixes), from its folder. */
  readonly issue: number;
  /** `k` of `item-<k>` (null for a session). */
  readonly attempt: number | null;
  /** The file name without `.pid`: `item-2`, `fix-1`, `fix-0123456789ab-1-1`. */
  readonly name: string;
}

/**
 * The first `bytes` of a file as text (an agent can write to the files its environment names: never read one whole).
 */
export function readHead(file: string, bytes: number): string {
  // Opened without blocking, a regular file only: an agent can put a pipe where its pid file was.
  return readRegularFileHeadSync(file, bytes);
}

/** Slack between a process's start and its pid file's time (boot time is known to the second, clocks drift). */
const START_SLACK_MS = 2000;

/** Boot time in ms since the epoch (Linux), or null. */
function bootTimeMs(): number | null {
  try {
    const line = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return line ? Number(line[1]) * 1000 : null;
  } catch {
    return null;
  }
}

/** Wall-clock start of a process from its opaque start time (Linux clock ticks since boot, or `ps` lstart text). */
function startedAtMs(startTime: string): number | null {
  if (/^\d+$/.test(startTime)) {
    const boot = bootTimeMs();
    // USER_HZ is 100 on every Linux the runner supports.
    return boot === null ? null : boot + (Number(startTime) / 100) * 1000;
  }
  const parsed = Date.parse(startTime);
  return Number.isNaN(parsed) ? null : parsed;
}

/** The `WM_PID` a process was started with, when /proc shows it: '' when it has none, null when unknown. */
function pidFileInEnvironment(pid: number): string | null {
  try {
    const vars = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return vars.find((v) => v.startsWith('WM_PID='))?.slice('WM_PID='.length) ?? '';
  } catch {
    return null;
  }
}

/**
 * Whether the live process `pid` is the wrapper that wrote `pidFile` (not a later process that got its pid): the pid
 * file its environment names decides; without one, it must have started before its pid file was written.
 */
function isWrapperOf(pid: number, startTime: string, pidFile: string, writtenMs: number): boolean {
  const named = pidFileInEnvironment(pid);
  if (named) return path.resolve(named) === path.resolve(pidFile);
  const started = startedAtMs(startTime);
  return started === null || started <= writtenMs + START_SLACK_MS;
}

/**
 * Whether `pid` is still the wrapper process that wrote `pidFile`, whether or not it has written its exit code yet (it
 * may be between writing it and exiting): false when it is gone or another program has its pid.
 */
export function isWrapperAlive(pidFile: string, pid: number): boolean {
  const startTime = processStartTime(pid);
  if (startTime === null) return false;
  try {
    return isWrapperOf(pid, startTime, pidFile, statSync(pidFile).mtimeMs);
  } catch {
    return false;
  }
}

/** The agent behind one pid file, when it still runs (its wrapper, or its group once the wrapper is gone). */
export function liveAgentOf(pidFile: string, issue: number): LiveAgent | null {
  const dir = path.dirname(pidFile);
  const name = path.basename(pidFile, '.pid');
  let text: string;
  let writtenMs: number;
  try {
    text = readHead(pidFile, 64);
    writtenMs = statSync(pidFile).mtimeMs;
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isSafeInteger(pid) || pid <= 1) return null;
  const files = runFilesOf(dir, name);
  // Its exit code written by this very process: it has ended (what it left in its group goes when it is judged).
  if (readExitCode(files, pid) !== null) return null;
  const startTime = processStartTime(pid);
  let alive: string | null = null;
  if (startTime !== null) {
    if (!isWrapperOf(pid, startTime, pidFile, writtenMs)) return null;
    alive = startTime;
  } else if (isGroupAlive(pid)) {
    // The wrapper was killed on its own; the agent it started lives on in its group.
    alive = '';
  }
  if (alive === null) return null;
  const item = /^item-(\d+)$/.exec(name);
  return {
    pidFile,
    pid,
    startTime: alive,
    startedAt: new Date((alive && startedAtMs(alive)) || Math.min(writtenMs, Date.now())).toISOString(),
    kind: item ? 'item' : 'session',
    issue,
    attempt: item ? Number(item[1]) : null,
    name,
  };
}

/** Pid files of one folder. */
function pidFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.pid'))
      .map((e) => path.join(dir, e.name));
  } catch {
    return [];
  }
}

/** The live agents of one item's folder (its attempts, its conflict and fix sessions). */
function liveAgentsOfItem(stateDir: string, issue: number): LiveAgent[] {
  return pidFilesIn(path.join(stateDir, 'items', String(issue))).flatMap((file) => liveAgentOf(file, issue) ?? []);
}

/** Every agent of the milestone whose pid file says it still runs (items first, by issue and attempt). */
export function findLiveAgents(stateDir: string): LiveAgent[] {
  const found: LiveAgent[] = [];
  const itemsDir = path.join(stateDir, 'items');
  const issues = existsSync(itemsDir) ? readdirSync(itemsDir).filter((n) => /^\d+$/.test(n)) : [];
  for (const issue of issues) found.push(...liveAgentsOfItem(stateDir, Number(issue)));
  for (const file of pidFilesIn(path.join(stateDir, 'gates'))) {
    const agent = liveAgentOf(file, 0);
    if (agent) found.push(agent);
  }
  return found.sort((a, b) =>
    a.kind === b.kind ? a.issue - b.issue || (a.attempt ?? 0) - (b.attempt ?? 0) : a.kind === 'item' ? -1 : 1,
  );
}

/** The live agent of an item's attempts (the latest attempt when, wrongly, there are several), or null. */
export function liveItemAgent(stateDir: string, issue: number): LiveAgent | null {
  const mine = liveAgentsOfItem(stateDir, issue)
    .filter((a) => a.kind === 'item')
    .sort((a, b) => (a.attempt ?? 0) - (b.attempt ?? 0));
  return mine[mine.length - 1] ?? null;
}

/**
 * `#2 attempt 1 (pid 4242, since 2024-05-01T10:00:00.000Z)`, `fix agent fix-1 of #2 (pid …)`, `fix agent fix-<sha>-1-1
 * of the gates (pid …)`.
 */
export function describeLiveAgent(agent: LiveAgent): string {
  const what =
    agent.kind === 'item'
      ? `#${agent.issue} attempt ${agent.attempt ?? '?'}`
      : `${agent.name.replace(/-.*/, '')} agent ${agent.name}${agent.issue ? ` of #${agent.issue}` : ' of the gates'}`;
  return `${what} (pid ${agent.pid}, since ${agent.startedAt})`;
}
