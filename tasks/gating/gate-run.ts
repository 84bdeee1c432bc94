/** Run one quality gate: `sh -c` in a worktree, its own process group, a timeout (124), output kept in a log. */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { randomUUID } from 'node:crypto';
import { killGroup } from '../executors/local/process.ts';
import { describeLeftProcesses, stopEscaped, writesTo } from '../executors/local/escaped.ts';
import type { EventSink } from '../lib/events.ts';
import type { LeftProcess } from '../executors/types.ts';
import { capEntry, readTail, stripControl } from '../lib/bounded-text.ts';
import { cutFile } from '../lib/cut-file.ts';
import { formatBytes } from '../lib/byte-size.ts';
import { childEnv } from '../lib/child-env.ts';
import { openOwnFileSync } from '../lib/own-file.ts';
import type { Gate } from '../lib/plan/types.ts';
import type { GateResult } from '../lib/state-types.ts';

/** Whether a gate applies to a change: gates with `files` run only when a changed path matches one of them. */
export function gateApplies(gate: Gate, changed: readonly string[]): boolean {
  if (gate.files.length === 0) return true;
  const match = picomatch([...gate.files], { dot: true });
  return changed.some((f) => match(f));
}

/** Run `gate` in `cwd`; the log goes to `logFile`. */
export async function runGate(
  gate: Gate,
  phase: GateResult['phase'],
  cwd: string,
  logFile: string,
  env: NodeJS.ProcessEnv,
): Promise<GateResult> {
  mkdirSync(path.dirname(logFile), { recursive: true });
  // A pipe an agent put there would make a plain open wait for a reader for ever.
  const fd = openOwnFileSync(logFile, 'truncate');
  const started = Date.now();
  const child = spawn('sh', ['-c', gate.run], { cwd, env: childEnv(env), detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let stopped: 'timeout' | 'output' | null = null;
  const stop = (why: 'timeout' | 'output') => {
    stopped ??= why;
    void killGroup(child.pid as number, 2000);
  };
  const timer = setTimeout(() => stop('timeout'), gate.timeoutMs);
  // The gate writes to the file itself (no pipe through the runner): its size is looked at while it runs.
  const watch = setInterval(() => {
    if (logSize(logFile) > gate.maxOutputBytes) stop('output');
  }, OUTPUT_CHECK_MS);
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    // Killed by a signal: the shell's convention, 128 + its number (SIGKILL → 137).
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
  });
  clearTimeout(timer);
  clearInterval(watch);
  // A gate that forked children into its group must not leave them behind.
  await killGroup(child.pid as number, 500);
  if (stopped === 'output') {
    // What left the group writes on (the log is its stdout too): stopped first, with the rest of this run's.
    if (env.WM_GATES) await stopEscaped(env.WM_GATES, 'WM_GATES', (pid) => writesTo(pid, logFile));
    cutLog(logFile, gate.maxOutputBytes, 'the gate wrote');
  }
  const exitCode = stopped === 'timeout' ? 124 : stopped === 'output' ? OUTPUT_LIMIT_EXIT : code;
  return { name: gate.name, phase, exitCode, durationMs: Date.now() - started, log: logFile };
}

/**
 * Cut a log to `limit` bytes, so a writer faster than the looks leaves no more than that, and say why as its last
 * line, which every quote of it shows.
 */
function cutLog(file: string, limit: number, who: string): void {
  cutFile(
    file,
    limit,
    `work-milestone: stopped: ${who} more than ${formatBytes(limit)} (defaults.max-output) to this log`,
  );
}

/** A log's size; 0 when it cannot be looked at (removed meanwhile): never a throw inside a timer. */
function logSize(file: string): number {
  try {
    return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0;
  }
}

/** Room for the line a cut log ends with. */
const CUT_NOTE_ROOM = 1024;

/** How often a running gate's log size is looked at. */
const OUTPUT_CHECK_MS = 250;

/** A gate's exit code when it was stopped for writing more than `max-output` (as 124 is a timeout's). */
export const OUTPUT_LIMIT_EXIT = 125;

/**
 * How much of a gate's log is ever read: its end, at an offset. A gate can print gigabytes; the log keeps them all
 * on disk, the runner reads only this much (docs/limits.md).
 */
export const GATE_LOG_TAIL_BYTES = 256 * 1024;
/** The longest line quoted from a gate's log in a message or a fix prompt. */
const TAIL_MAX_LINE = 500;
/** The longest explanation, and the longest line in it. */
const EXPLAIN_MAX_CHARS = 2000;
const EXPLAIN_MAX_LINE = 300;
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g;

/** The end of a gate's log ('' when it cannot be read); never the whole file. */
export function readGateLog(log: string): string {
  return readTail(log, GATE_LOG_TAIL_BYTES).text;
}

/**
 * The last lines of a gate's log, for messages and fix prompts: colours and control characters removed, each line
 * cut to 500 characters, so a prompt quoting `lines` of them stays small whatever the gate printed.
 */
export function gateOutputTail(result: GateResult, lines = 60): string {
  const all = logLines(readGateLog(result.log));
  // A log ends with a newline (and often blank lines): the last `lines` are lines with something on them.
  while (all.length > 0 && !all[all.length - 1]) all.pop();
  return all
    .slice(-lines)
    .map((l) => capEntry(l, TAIL_MAX_LINE))
    .join('\n')
    .trim();
}

/** A log's lines as a terminal shows them: no colours, a progress line rewritten with \r in its last state. */
function logLines(text: string): string[] {
  return text
    .replace(ANSI, '')
    .split('\n')
    .map((l) =>
      stripControl(
        l
          .split('\r')
          .filter((part) => part.trim())
          .pop() ?? '',
      ).trimEnd(),
    );
}

/** Words and marks of test runners, compilers, shells and linters that say what went wrong. */
const TELLS =
  /\b(errors?|fail(s|ed|ing|ures?)?|assert\w*|expected|received|actual|exceptions?|panic(ked)?|fatal|traceback|not ok|cannot|can't|unable to|not found|no such file|undefined reference|segmentation fault|timed out|refused|denied)\b|[✘✗✖✕×]|\w\.\w+:\d+(:\d+)?\b|\(\d+,\d+\): /i;
/** A count of zero: `0 errors`, `fail 0`, `failures: 0`. */
const ZERO = /\b0 (errors?|fail(ed|ures?|ing)?)\b|\b(errors?|fail(ed|ures?|ing)?)\s*[:=]?\s+0\b/i;
/**
 * Lines that say a failure happened without saying why: npm's epilogue, frames of node's own or a dependency's code.
 */
const NOISE = /^\s*npm (ERR!|error|warn)|^\s*at (.*\()?(node:|internal\/)|^\s*at .*node_modules\//i;
const FRAME = /^\s*at\s/;

/**
 * The lines of a gate's output most likely to say why it failed: lines that name an error, a failed test or
 * assertion, a file:line, with the line after one that ends in `:` (`expected …:` then the values); one frame per
 * stack; repeated lines once. The last `max` of them, at most 2000 characters; the last lines when none match.
 */
export function explainGateLog(text: string, max = 12): string {
  const lines = logLines(text);
  const picked: number[] = [];
  let frameTaken = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const frame = FRAME.test(line);
    if (!frame) frameTaken = false;
    if (!line.trim() || NOISE.test(line) || ZERO.test(line) || !TELLS.test(line) || (frame && frameTaken)) continue;
    frameTaken ||= frame;
    picked.push(i);
    if (line.trimEnd().endsWith(':')) {
      const next = lines.findIndex((l, j) => j > i && l.trim() !== '');
      if (next > 0 && !FRAME.test(lines[next] as string)) picked.push(next);
    }
  }
  const chosen = picked.length ? [...new Set(picked)].map((i) => lines[i] as string) : lines.filter((l) => l.trim());
  // Runners repeat failures in a summary at the end: keep each line's last time.
  const unique = chosen.filter((l, i) => chosen.lastIndexOf(l) === i);
  const out = unique.slice(-max).map((l) => capEntry(l, EXPLAIN_MAX_LINE));
  while (out.length > 1 && out.join('\n').length > EXPLAIN_MAX_CHARS) out.shift();
  return out.join('\n').slice(0, EXPLAIN_MAX_CHARS);
}

/** `explainGateLog` of the end of a gate's log ('' when it cannot be read). */
export function explainGateFailure(result: GateResult, max = 12): string {
  return explainGateLog(readGateLog(result.log), max);
}

/** A notice naming what a gate run left running outside its process groups, which `runGates` stopped. */
export function noteLeftProcesses(events: EventSink, run: GatesRun): void {
  if (run.left.length > 0)
    events.emit({ type: 'notice', message: `gates: ${describeLeftProcesses(run.left, 'the gates', 'their')}` });
}

/** What a run of the gates gave: green or not, each gate's result, and what they left running that was stopped. */
export interface GatesRun {
  readonly green: boolean;
  readonly results: readonly GateResult[];
  /** Processes the gates started outside their process groups (setsid: `pg_ctl start`), stopped after the run. */
  readonly left: readonly LeftProcess[];
}

/**
 * Run gates in order, stopping at the first red one. A gate's own process group ends with it; what left its group
 * (a daemon) may serve the next gate of the run, and is stopped when the run ends: every process started with this
 * run's `WM_GATES` in its environment. Left running, it would hold its port and its data for the next run, which then
 * checks another tree against what this one left, and it would outlive the milestone.
 */
export async function runGates(
  gates: ReadonlyArray<{ readonly gate: Gate; readonly phase: GateResult['phase'] }>,
  cwd: string,
  logDir: string,
  env: NodeJS.ProcessEnv,
  onResult: (r: GateResult) => void = () => undefined,
): Promise<GatesRun> {
  const results: GateResult[] = [];
  // Unique to this run: two runs of the same log folder (the `gates` command in two terminals) stop only their own.
  const marker = `${logDir}#${randomUUID()}`;
  const marked = { ...env, WM_GATES: marker };
  let green = true;
  let left: readonly LeftProcess[];
  // The logs of gates that ended: what one left outside its group (kept for the later gates) still writes there.
  const ended: Array<{ readonly file: string; readonly limit: number }> = [];
  // A cut log ends with the line saying why: over its limit by that line, it is not over it again.
  const over = (e: (typeof ended)[number]) => logSize(e.file) > e.limit + CUT_NOTE_ROOM;
  let cutting: Promise<void> | null = null;
  const stoppedEarly: LeftProcess[] = [];
  const watch = setInterval(() => {
    const full = ended.find(over);
    if (!full || cutting) return;
    // Only what writes there: the gate running now, and what it started, go on.
    cutting = stopEscaped(marker, 'WM_GATES', (pid) => writesTo(pid, full.file)).then((found) => {
      stoppedEarly.push(...found);
      cutLog(full.file, full.limit, 'what the gate left running wrote');
      cutting = null;
    });
  }, OUTPUT_CHECK_MS);
  try {
    for (const [i, { gate, phase }] of gates.entries()) {
      const slug = gate.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
      const result = await runGate(gate, phase, cwd, path.join(logDir, `${i + 1}-${phase}-${slug}.log`), marked);
      ended.push({ file: result.log, limit: gate.maxOutputBytes });
      results.push(result);
      onResult(result);
      if (result.exitCode !== 0) {
        green = false;
        break;
      }
    }
  } finally {
    clearInterval(watch);
    await cutting;
    // Also when the runner is stopped meanwhile (a signal ends the gate's group first).
    left = [...stoppedEarly, ...(await stopEscaped(marker, 'WM_GATES'))];
    for (const e of ended) if (over(e)) cutLog(e.file, e.limit, 'what the gate left running wrote');
  }
  return { green, results, left };
}
