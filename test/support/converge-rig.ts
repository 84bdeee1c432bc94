/**
 * Helpers of the convergence and interruption tests (test/converge*.test.ts, test/interrupt.test.ts): a two-item
 * milestone whose `command` agents count their starts in a file outside the repository, state.json edited the way a
 * crash leaves it, live processes and process groups, a runner started in the background, a step run twice.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { runInProcess } from './cli.ts';
import { git, makeRepo, readEvents, startCli, tempDir, type CliResult, type TestRepo } from './fixture.ts';
import { COUNTING_AGENT, linesOf, rigItems, rigPlan, show, type RigItem } from './wave-rig.ts';
import { killQuietly } from './processes.ts';

/** The integration branch of every rig plan. */
export const BRANCH = 'milestone/7-wave-rig';

/** One wave of two items: #1 One, #2 Two. */
export const TWO: ReadonlyArray<readonly RigItem[]> = [
  [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
  ],
];

const TITLES: Readonly<Record<number, string>> = { 1: 'one', 2: 'two' };

/** `work/7-<issue>-<slug>` of an item of TWO. */
export function itemBranch(issue: number): string {
  return `work/7-${issue}-${TITLES[issue]}`;
}

/** The worktree folder of an item of TWO. */
export function itemDir(repo: TestRepo, issue: number): string {
  return path.join(repo.dir, 'worktrees', `7-${issue}-${TITLES[issue]}`);
}

/** The integration worktree. */
export function integrationDir(repo: TestRepo): string {
  return path.join(repo.dir, 'worktrees', 'milestone-7');
}

/** A rig: the repository, the agent-start counter (outside the repository) and the env that points agents at it. */
export interface Rig {
  readonly repo: TestRepo;
  readonly counter: string;
  readonly env: Readonly<Record<string, string>>;
  /** Agent starts so far, one issue number a line, sorted. */
  starts(): string[];
  cleanup(): void;
}

/** A repository with a plan of `waves` (TWO by default) whose agents are `command` (COUNTING_AGENT by default). */
export async function makeRig(
  options: {
    waves?: ReadonlyArray<readonly RigItem[]>;
    command?: string;
    top?: string;
    origin?: boolean;
    extra?: string;
    /** The plan's `defaults.schedule` (`run` follows it; a `step` is a node of the waves graph either way). */
    schedule?: 'waves' | 'dag';
  } = {},
): Promise<Rig> {
  const waves = options.waves ?? TWO;
  const extra = `${options.extra ?? 'timeout: 30s\nretries: 0'}\nschedule: ${options.schedule ?? 'waves'}`;
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: options.command ?? COUNTING_AGENT, top: options.top, extra }),
    items: rigItems(waves),
    origin: options.origin,
  });
  const counterDir = tempDir('wm-counter-');
  const counter = path.join(counterDir, 'starts');
  return {
    repo,
    counter,
    env: { COUNTER: counter },
    starts: () => linesOf(counter).sort(),
    cleanup: () => {
      killRecordedGroups(repo);
      repo.cleanup();
      rmSync(counterDir, { recursive: true, force: true });
    },
  };
}

/**
 * `step <name> 7 --repo <dir> …` in this process (`main()` as step.mts calls it): what the step does, without the
 * second of CPU a CLI start costs. The convergence tests are about the steps' work; the scripts' own start, exit codes
 * and signals are tested as processes elsewhere (cli.test.ts, interrupt.test.ts, crash-matrix.test.ts).
 */
export function stepIn(
  repo: TestRepo,
  name: string,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  return runInProcess('step', [name, '7', '--repo', repo.dir, ...extra], { env });
}

/** `run 7 --repo <dir> --no-push …` in this process (see stepIn). */
export function runIn(
  repo: TestRepo,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  return runInProcess('run', ['7', '--repo', repo.dir, '--no-push', ...extra], { env });
}

/** Run steps in order (`['worktrees', '--wave', '1']` or a bare name), each must exit 0. */
export async function stepsOk(rig: Rig, steps: ReadonlyArray<string | readonly string[]>): Promise<void> {
  for (const s of steps) {
    const [name = '', ...extra] = typeof s === 'string' ? [s] : s;
    const r = await stepIn(rig.repo, name, extra, rig.env);
    assert.is(r.code, 0, `step ${name} ${extra.join(' ')}: ${show(r)}`);
  }
}

/** The steps before a wave's agents: validate, prepare, branch, fetch, worktrees of wave 1. */
export const TO_WORKTREES: ReadonlyArray<string | readonly string[]> = [
  'validate',
  'prepare',
  'branch',
  'fetch',
  ['worktrees', '--wave', '1'],
];

/** Parsed state.json. */
export function stateOf(repo: TestRepo): any {
  return JSON.parse(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'));
}

/** state.json's exact text. */
export function stateText(repo: TestRepo): string {
  return readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8');
}

/** Change state.json by hand, as a runner killed between two writes leaves it. */
export function editState(repo: TestRepo, change: (state: any) => void): void {
  const state = stateOf(repo);
  change(state);
  writeFileSync(path.join(repo.stateDir, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
}

/** A pid that is certainly not running: a process that has ended and been reaped. */
export function deadPid(): number {
  const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
  return Number(child.stdout.trim());
}

/**
 * Processes of the group `pgid` that still run (zombies left for init to reap do not count), as `pid stat args` lines.
 */
export function groupMembers(pgid: number): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && !stat?.startsWith('Z'))
    .map(([pid, , stat, ...args]) => `${pid} ${stat} ${args.join(' ')}`);
}

/** SIGKILL the process groups of every agent ever spawned in this repository (cleanup after a failed test). */
export function killRecordedGroups(repo: TestRepo): void {
  for (const e of readEvents(repo)) {
    if (e.type !== 'agent-spawned') continue;
    killQuietly(-e.pid);
  }
}

/** A runner started in the background: its child process and its end (exit code, signal, output). */
export interface Runner {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<CliResult>;
  /** stderr so far. */
  stderr(): string;
}

/** Start `run.mts 7 --repo <dir> --no-push …` without waiting for it. */
export function startRunner(rig: Rig, extra: readonly string[] = []): Runner {
  const child = startCli('run', ['7', '--repo', rig.repo.dir, '--no-push', ...extra], { env: rig.env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { pid: child.pid as number, kill: (signal) => child.kill(signal), done, stderr: () => stderr };
}

/** Refs as `name sha` lines. */
export function refsOf(repo: TestRepo): Promise<string> {
  return git(repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)');
}

/**
 * Run one step twice: the first must exit 0; after `settle`, the second must be a no-op: exit 0, only `step-skip`
 * step events, no agent started, no ref moved, not one byte of state.json (nor of `files`) changed.
 */
export async function stepTwice(
  rig: Rig,
  name: string,
  extra: readonly string[] = [],
  options: { settle?: () => Promise<unknown>; files?: readonly string[] } = {},
): Promise<void> {
  const label = `${name} ${extra.join(' ')}`.trim();
  const first = await stepIn(rig.repo, name, extra, rig.env);
  assert.is(first.code, 0, `${label}: ${show(first)}`);
  await options.settle?.();
  const refs = await refsOf(rig.repo);
  const state = stateText(rig.repo);
  const files = (options.files ?? []).map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));
  const starts = rig.starts().length;
  const eventsBefore = readEvents(rig.repo).length;
  const second = await stepIn(rig.repo, name, extra, rig.env);
  assert.is(second.code, 0, `${label} again: ${show(second)}`);
  assert.is(await refsOf(rig.repo), refs, `${label} again moved refs`);
  assert.is(stateText(rig.repo), state, `${label} again changed state.json`);
  (options.files ?? []).forEach((f, i) =>
    assert.is(existsSync(f) ? readFileSync(f, 'utf8') : null, files[i], `${label} again changed ${f}`),
  );
  assert.is(rig.starts().length, starts, `${label} again started an agent`);
  const events = readEvents(rig.repo).slice(eventsBefore);
  const kinds = events.filter((e) => e.type.startsWith('step-')).map((e) => `${e.type} ${e.node}`);
  assert.ok(
    kinds.length > 0 && kinds.every((k) => k.startsWith('step-skip ')),
    `${label} again: ${JSON.stringify(kinds)}`,
  );
  assert.not.ok(
    events.some((e) => e.type === 'agent-spawned'),
    `${label} again spawned an agent`,
  );
}

/**
 * Subjects of the commits on `rev` since the milestone's base that merged an item (`Merge #N: …`), with their parent
 * counts.
 */
export async function itemMerges(
  repo: TestRepo,
  rev: string,
): Promise<Array<{ sha: string; subject: string; parents: number }>> {
  const base = stateOf(repo).branch.base as string;
  const log = await git(repo.dir, 'log', '--format=%H %P%x09%s', `${base}..${rev}`);
  return log
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [ids = '', subject = ''] = l.split('\t');
      const [sha = '', ...parents] = ids.trim().split(' ');
      return { sha, subject, parents: parents.length };
    })
    .filter((m) => m.subject.startsWith('Merge #'));
}

/**
 * Assert the milestone landed: exit 0, every item complete and merged once (2 parents), main has its file, nothing left
 * behind.
 */
export async function assertLanded(rig: Rig, r: CliResult, issues: readonly number[] = [1, 2]): Promise<void> {
  assert.is(r.code, 0, `run: ${show(r)}`);
  const state = stateOf(rig.repo);
  assert.ok(state.complete, 'complete recorded');
  for (const issue of issues) {
    const it = state.items[String(issue)];
    assert.is(it.status, 'complete', `#${issue}: ${JSON.stringify(it)}`);
    assert.is(await git(rig.repo.dir, 'show', `main:item-${issue}.txt`), String(issue));
    const merges = (await git(rig.repo.dir, 'log', '--format=%s', 'main'))
      .split('\n')
      .filter((s) => s.startsWith(`Merge #${issue}:`));
    assert.is(merges.length, 1, `#${issue} merged ${merges.length} times`);
  }
  const worktrees = (await git(rig.repo.dir, 'worktree', 'list', '--porcelain'))
    .split('\n')
    .filter((l) => l.startsWith('worktree '));
  assert.is(worktrees.length, 1, `worktrees left: ${worktrees.join(', ')}`);
  assert.is(
    await git(rig.repo.dir, 'branch', '--list', 'work/*', 'milestone/*'),
    '',
    'item or integration branches left',
  );
  assert.not.ok(existsSync(path.join(rig.repo.stateDir, 'run.lock')), 'run.lock left');
}
