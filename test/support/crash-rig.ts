/**
 * The milestone the crash tests kill and resume: two waves of two items, a trivial CHANGELOG conflict resolved in the
 * same order every time, a gate, an origin, and a dirty checkout that prepare stashes. Agents count their own starts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { collect, runInProcess } from './cli.ts';
import { git, makeRepo, startCli, tempDir, type CliResult, type TestRepo } from './fixture.ts';

// Item 1 appends to CHANGELOG at once; item 2 only once the runner has judged item 1 (its agent-exited event is in
// $EVENTS, so item 1 has the lower finishSeq, the merge order): the same trivial conflict, resolved in the same order.
// No timing: a bounded poll (up to 600 x 0.05 s, a guard against a hung test, not an ordering).
const AGENT = [
  'echo "$WM_ISSUE" >> "$COUNTER"',
  'if [ "$WM_ISSUE" = 2 ]; then',
  '  i=0',
  '  until grep -q \'"type":"agent-exited","issue":1,\' "$EVENTS" 2>/dev/null || [ $i -ge 600 ]; do sleep 0.05; i=$((i + 1)); done',
  'fi',
  'if [ "$WM_ISSUE" -le 2 ]; then printf -- "- change %s\\n" "$WM_ISSUE" >> CHANGELOG.md; fi',
  'printf "%s\\n" "$WM_ISSUE" > "item-$WM_ISSUE.txt"',
  'git add -A && git commit -qm "item $WM_ISSUE"',
  'printf "STATUS: COMPLETE\\nBRANCH: %s\\nNOTES: ok\\n" "$WM_BRANCH"',
].join('\n');

const plan = (title: string) => `milestone: {number: 7, title: ${JSON.stringify(title)}}
waves:
  - wave: 1
    items:
      - {issue: 1, title: "One"}
      - {issue: 2, title: "Two"}
  - wave: 2
    items:
      - {issue: 3, title: "Three", depends-on: [1]}
      - {issue: 4, title: "Four"}
quality-gates:
  post-merge: ["test -f item-1.txt"]
defaults: {agent: command, command: "sh ./.agent.sh", timeout: 60s, retries: 0}
`;

/** One repository of the crash milestone, the file where its agents log their starts, and how `run` schedules it. */
export interface CrashCase {
  readonly repo: TestRepo;
  readonly counter: string;
  readonly schedule: 'waves' | 'dag';
}

/** A fresh repository of the crash milestone titled `title`, with a dirty checkout (prepare stashes it with --yes). */
export async function makeCrashCase(title: string, schedule: 'waves' | 'dag' = 'waves'): Promise<CrashCase> {
  const repo = await makeRepo({
    plan: plan(title),
    items: [1, 2, 3, 4].map((issue) => ({ issue, title: ['One', 'Two', 'Three', 'Four'][issue - 1] as string })),
    files: { 'CHANGELOG.md': '# Changelog\n\n', '.agent.sh': `${AGENT}\n` },
    origin: true,
  });
  writeFileSync(path.join(repo.dir, 'scratch.txt'), 'work in progress\n');
  const counter = path.join(tempDir('wm-counter-'), 'starts');
  writeFileSync(counter, '');
  return { repo, counter, schedule };
}

const env = (c: CrashCase) => ({ COUNTER: c.counter, EVENTS: path.join(c.repo.stateDir, 'events.jsonl') });
const args = (c: CrashCase) => ['7', '--repo', c.repo.dir, '--yes', '--schedule', c.schedule];

/**
 * `run` of the case to its end, in this process (`main()` as run.mts calls it): a run that is not killed needs no
 * process of its own, and a CLI start costs about a second of CPU. The runs that are killed are processes (runAndKill).
 */
export function runCrashCase(c: CrashCase): Promise<CliResult> {
  return runInProcess('run', args(c), { env: env(c) });
}

/** The tree of main. */
export function mainTree(c: CrashCase): Promise<string> {
  return git(c.repo.dir, 'rev-parse', 'main^{tree}');
}

/** The complete lines of events.jsonl (the last may still be being written). */
function eventLines(c: CrashCase): string[] {
  const events = path.join(c.repo.stateDir, 'events.jsonl');
  return existsSync(events) ? readFileSync(events, 'utf8').split('\n').slice(0, -1) : [];
}

/** The events written since `offset` lines (`eventLines(c).length` before a run: that run's events). */
export function eventsSince(c: CrashCase, offset: number): Array<Record<string, unknown>> {
  return eventLines(c)
    .slice(offset)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** How many events the case has so far (where the next run's begin). */
export function eventCount(c: CrashCase): number {
  return eventLines(c).length;
}

/** Events a kill point counts: an event matches when it has every field of one of these. */
export type KillAt = ReadonlyArray<Readonly<Record<string, unknown>>>;

/**
 * Start a run that SIGKILLs itself right after writing the `n`-th event of its own matching `at`
 * (`WM_KILL_AFTER_EVENT`, tasks/lib/kill-point.ts): the kill lands exactly there however fast or loaded the machine
 * is. Null: it runs to its end. Returns whether it was killed.
 */
export async function runAndKill(c: CrashCase, at: KillAt | null, n = 1): Promise<boolean> {
  const killAt: Record<string, string> = at ? { WM_KILL_AFTER_EVENT: JSON.stringify({ any: at, n }) } : {};
  const result = await collect(startCli('run', args(c), { env: { ...env(c), ...killAt } }), 300_000);
  return result.signal === 'SIGKILL';
}

/** No agent started twice so far (after a kill: the resumed runs took over what the killed ones started). */
export function assertNoRestart(c: CrashCase, label: string): void {
  const starts = readFileSync(c.counter, 'utf8').split('\n').filter(Boolean);
  assert.is(new Set(starts).size, starts.length, `${label}: an agent started twice: ${starts.join(' ')}`);
}

/** After `again` (a run to its end): main and origin have the reference tree, each agent started once, nothing left. */
export async function assertConverged(c: CrashCase, again: CliResult, reference: string, label: string): Promise<void> {
  assert.is(again.code, 0, `${label}: run again exits 0\n${again.stderr}`);
  assert.is(await mainTree(c), reference, `${label}: same main tree as the reference`);
  assert.is(await git(c.repo.origin as string, 'rev-parse', 'main^{tree}'), reference, `${label}: origin has it`);
  const starts = readFileSync(c.counter, 'utf8').split('\n').filter(Boolean).sort();
  assert.equal(starts, ['1', '2', '3', '4'], `${label}: each agent started exactly once`);
  const worktrees = (await git(c.repo.dir, 'worktree', 'list', '--porcelain'))
    .split('\n')
    .filter((l) => l.startsWith('worktree '));
  assert.is(worktrees.length, 1, `${label}: no worktree left`);
  assert.not.ok(existsSync(path.join(c.repo.stateDir, 'run.lock')), `${label}: no lock left`);
  assert.is(
    (await git(c.repo.dir, 'branch', '--list', 'work/*', 'milestone/*')).trim(),
    '',
    `${label}: no item or integration branch left`,
  );
  assert.match(await git(c.repo.dir, 'stash', 'list'), /work-milestone: pre-run main/, `${label}: the stash is kept`);
}
