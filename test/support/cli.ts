/** The one way tests start processes: the CLI (the fresh bundle, else the scripts through tsx) or any command. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshBundle } from '../../bin/bundle.mjs';
import type { Io } from '../../tasks/cli/io.ts';
import type { CommandName } from '../../tasks/cli/main.ts';

/** The package root (where scripts/ are). */
export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** tsx's loader, for `node --import`. */
export const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** Result of a process run to its end. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where and how a process runs. */
export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** SIGKILL after this long (a guard against a hung test, not a measure); 120 s by default. */
  readonly timeoutMs?: number;
}

/** Environment for CLI runs: no TTY renderer, no parent agent marker, no inherited tsx loader. */
export function cliEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: '1', ...extra };
  delete env.WORK_MILESTONE_CHILD;
  delete env.NODE_OPTIONS;
  return env;
}

/** Start `file args…` with cliEnv's environment plus `env` (nothing removed afterwards). */
export function startProcess(file: string, args: readonly string[], options: RunOptions = {}): ChildProcess {
  return spawn(file, [...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...cliEnv(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Whether dist/ holds a bundle of the current sources (asked once per test process). */
let bundleFresh: boolean | undefined;

/**
 * Start `scripts/<script>.mts args…` as a child process: the same `main(script, args)` from the fresh bundle without
 * tsx (`script-entry.mjs`), else the script through tsx.
 */
export function startCli(script: string, args: readonly string[], options: RunOptions = {}): ChildProcess {
  bundleFresh ??= freshBundle() !== null;
  const entry = bundleFresh
    ? [path.join(ROOT, 'test', 'support', 'script-entry.mjs'), script]
    : ['--import', TSX, path.join(ROOT, 'scripts', `${script}.mts`)];
  return spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A started script that a test kills at a point of its choosing (a runner dying there). */
export interface Killable {
  readonly child: ChildProcess;
  /** Resolves once the process has closed. */
  readonly closed: Promise<void>;
  /** SIGKILL it; resolves once it has closed. */
  kill(): Promise<void>;
}

/** Start `scripts/<script>.mts args…` (as startCli) to be killed. */
export function startKillable(script: string, args: readonly string[], options: RunOptions = {}): Killable {
  const child = startCli(script, args, options);
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    closed,
    kill: async () => {
      child.kill('SIGKILL');
      await closed;
    },
  };
}

/**
 * `run args…` as a process that SIGKILLs itself right after writing the `n`-th event that has every field of one of
 * `at` (`WM_KILL_AFTER_EVENT`, tasks/lib/kill-point.ts): the kill lands exactly there, however busy the machine.
 */
export function runKilledAt(
  args: readonly string[],
  at: ReadonlyArray<Readonly<Record<string, unknown>>>,
  n = 1,
): Promise<CliResult> {
  const killAt = JSON.stringify({ any: at, n });
  return collect(startCli('run', args, { env: { WM_KILL_AFTER_EVENT: killAt } }), 300_000);
}

/** A started child whose output is read while it runs. */
export interface Watched {
  readonly child: ChildProcess;
  /** Its result, once it has closed. */
  readonly done: Promise<CliResult>;
  /** Whether it has closed. */
  ended(): boolean;
  stdout(): string;
  stderr(): string;
}

/** Collect a started child's output as it comes; SIGKILL it after `timeoutMs`. */
export function watch(child: ChildProcess, timeoutMs = 120_000): Watched {
  let stdout = '';
  let stderr = '';
  let ended = false;
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ended = true;
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done, ended: () => ended, stdout: () => stdout, stderr: () => stderr };
}

/** Collect a started child's output until it closes; SIGKILL it after `timeoutMs`. */
export function collect(child: ChildProcess, timeoutMs = 120_000): Promise<CliResult> {
  return watch(child, timeoutMs).done;
}

/** Run a script to its end. */
export function runCli(script: string, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return collect(startCli(script, args, options), options.timeoutMs);
}

/** A script run to its end, with the peak RSS (VmHWM) of its process read from /proc while it ran. */
export interface MeasuredResult extends CliResult {
  readonly peakKiB: number;
  /** How many times the high-water mark was read (0: the process was gone before the first look). */
  readonly readings: number;
}

/** The kernel's high-water mark of a process's resident memory (KiB), or null once it has gone. */
function vmHwm(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Run a script to its end (as runCli) and watch its memory. */
export async function runCliMeasured(
  script: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<MeasuredResult> {
  const watched = watch(startCli(script, args, options), options.timeoutMs);
  let peakKiB = 0;
  let readings = 0;
  // The high-water mark only grows: any reading after the big read covers that moment.
  const poll = setInterval(() => {
    const kib = vmHwm(watched.child.pid as number);
    if (kib === null) return;
    readings += 1;
    peakKiB = Math.max(peakKiB, kib);
  }, 20);
  const result = await watched.done;
  clearInterval(poll);
  return { ...result, peakKiB, readings };
}

/** Run any command to its end (cliEnv's environment plus `env`). */
export function runProcess(file: string, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return collect(startProcess(file, args, options), options.timeoutMs);
}

/** A CLI result for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The repository a milestone command runs on. */
export interface HasDir {
  readonly dir: string;
}

/** `run.mts <milestone> --repo <dir> flags…` */
export function runMilestone(
  repo: HasDir,
  flags: readonly string[] = [],
  options: RunOptions & { readonly milestone?: number | string } = {},
): Promise<CliResult> {
  return runCli('run', [String(options.milestone ?? 7), '--repo', repo.dir, ...flags], options);
}

/** `step.mts <name> <milestone> --repo <dir> flags…` */
export function runStep(
  repo: HasDir,
  name: string,
  flags: readonly string[] = [],
  options: RunOptions & { readonly milestone?: number | string } = {},
): Promise<CliResult> {
  return runCli('step', [name, String(options.milestone ?? 7), '--repo', repo.dir, ...flags], options);
}

/**
 * `main()` of a command in this process, as its script would call it, output captured: what the script does without
 * the second or so a child process costs to start tsx and load the modules. For what is not about the process itself
 * (its exit, signals, stdio, argv): the scripts are still run as processes where that is tested.
 */
export async function runInProcess(
  command: CommandName,
  args: readonly string[],
  options: Omit<RunOptions, 'timeoutMs'> & { readonly entry?: Io['entry'] } = {},
): Promise<CliResult> {
  // Loaded on first use: most tests never need the runner's modules in their own process.
  const { main } = await import('../../tasks/cli/main.ts');
  let stdout = '';
  let stderr = '';
  const io: Io = {
    cwd: options.cwd ?? ROOT,
    env: { ...cliEnv(), ...options.env },
    out: (t) => void (stdout += t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void (stderr += t.endsWith('\n') ? t : `${t}\n`),
    isTTY: false,
    confirm: () => Promise.resolve(false),
    entry: options.entry,
  };
  const code = await main(command, args, io);
  return { code, signal: null, stdout, stderr };
}
