/**
 * Scenarios of the merge queue (docs/steps.md, "Merging"): items of one serial wave with `command` agents, run to the
 * end on a bare origin.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { runInProcess, show } from './cli.ts';
import { commandDefaults, planYaml } from './plan.ts';
import {
  git,
  makeRepo,
  parentsOf,
  readEvents,
  readStateFile,
  refExists,
  showFile,
  tempDir,
  writeAgent,
  type AgentScript,
  type CliResult,
  type TestRepo,
} from './fixture.ts';

/** Items Alpha, Beta, Gamma, in that order (the wave is serial: they finish and merge in this order). */
export const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
  { issue: 3, title: 'Gamma' },
];

/** Fails while a merge is in progress or the integration worktree is dirty: proves every abort left it clean. */
export const CLEAN_INTEGRATION = {
  name: 'clean-integration',
  run: '! git rev-parse -q --verify MERGE_HEAD && test -z "$(git status --porcelain)"',
};

/** The plan: one serial wave of `count` items, a post-merge gate that fails while a merge is in progress. */
export function planOf(command: string, count: number): string {
  return planYaml({
    title: 'Merge classes',
    waves: [{ parallel: false, items: ITEMS.slice(0, count) }],
    gates: { 'post-merge': [CLEAN_INTEGRATION] },
    defaults: commandDefaults(command),
  });
}

/** A finished run. */
export interface Scenario {
  readonly repo: TestRepo;
  readonly agent: AgentScript;
  readonly tools: string;
  readonly result: CliResult;
  readonly state: any;
  cleanup(): void;
}

/** A repo with `files` on main, items Alpha, Beta (and Gamma), and agents from `body`; `run` to the end. */
export async function scenario(body: string, files: Record<string, string> = {}, count = 2): Promise<Scenario> {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(tools, body);
  const repo = await makeRepo({
    plan: planOf(agent.command, count),
    items: ITEMS.slice(0, count),
    files,
    origin: true,
  });
  // In this process: the merge queue is what is tested, not the script's process.
  const result = await runInProcess('run', ['7', '--repo', repo.dir]);
  return {
    repo,
    agent,
    tools,
    result,
    state: readStateFile(repo),
    cleanup: () => {
      repo.cleanup();
      rmSync(tools, { recursive: true, force: true });
    },
  };
}

/** A CLI result for assertion messages. */
export const output = show;

/** Whether origin's main contains `sha`. */
export async function onOriginMain(s: Scenario, sha: string): Promise<boolean> {
  return git(s.repo.origin as string, 'merge-base', '--is-ancestor', sha, 'main').then(
    () => true,
    () => false,
  );
}

/**
 * The item reached integration by a `--no-ff` merge commit `Merge #<issue>: <title>` whose second parent is the branch
 * tip, and landed.
 */
export async function assertMerged(s: Scenario, issue: number, kind: string): Promise<void> {
  const st = s.state.items[String(issue)];
  const title = ITEMS[issue - 1]?.title;
  assert.is(st.status, 'complete', `#${issue} status`);
  assert.is(st.merge?.kind, kind, `#${issue} merge kind (${st.merge?.note})`);
  assert.ok(st.merge.sha, `#${issue} has a merge sha`);
  assert.is(await git(s.repo.dir, 'log', '-1', '--format=%s', st.merge.sha), `Merge #${issue}: ${title}`);
  const parents = await parentsOf(s.repo.dir, st.merge.sha);
  assert.is(parents.length, 2, `#${issue} merged with --no-ff`);
  assert.is(parents[1], st.result.commits[0].sha, `#${issue}'s second parent is its branch tip`);
  assert.ok(await onOriginMain(s, st.merge.sha), `#${issue}'s merge is on origin/main`);
}

/** A file's exact text on origin's main. */
export async function mainFile(s: Scenario, file: string): Promise<string> {
  return showFile(s.repo.origin as string, 'main', file);
}

/** No conflict markers in a text. */
export function assertNoMarkers(text: string): void {
  assert.not.match(text, /^(<{7}|={7}|>{7})/m);
}

/** Escalated by the merge queue: status, record, backlog item on integration, branch kept; the rest landed. */
export async function assertEscalated(
  s: Scenario,
  kind: string,
  files: readonly string[],
  notePattern: RegExp,
): Promise<void> {
  assert.is(s.result.code, 3, output(s.result));
  assert.match(s.result.stderr, /#2 escalated/);
  const st = s.state.items['2'];
  assert.is(st.status, 'escalated');
  assert.is(st.merge.kind, kind);
  assert.is(st.merge.sha, null);
  assert.equal([...st.merge.files].sort(), [...files].sort());
  assert.match(st.merge.note, notePattern);
  const issue = st.merge.followUp as number;
  assert.is(issue, 4, 'the next free backlog number');
  const text = await mainFile(s, `plan/backlog/${issue}.md`);
  const front = parseYaml(text.split('---\n')[1] ?? '');
  assert.is(front.title, 'Resolve merge conflict: Alpha vs Beta');
  assert.equal(front.labels, ['conflict-resolution']);
  assert.is(front.status, 'open');
  assert.is(String(front.milestone), '7');
  for (const f of files) assert.ok(text.includes(f), `backlog item names ${f}`);
  assert.ok(text.includes('work/7-2-beta') && text.includes('work/7-1-alpha'), 'backlog item names both branches');
  // Committed on the integration branch (the second parent of the milestone's merge into main), not on main itself.
  const add = await git(s.repo.origin as string, 'log', '--format=%H %s', 'main', '--', `plan/backlog/${issue}.md`);
  const [sha = '', ...subject] = add.split('\n').pop()?.split(' ') ?? [];
  assert.is(subject.join(' '), `backlog: add #${issue} Resolve merge conflict: Alpha vs Beta`);
  assert.ok(
    await git(s.repo.dir, 'merge-base', '--is-ancestor', sha, 'main^2').then(
      () => true,
      () => false,
    ),
    'added on integration',
  );
  assert.ok(
    !(await git(s.repo.dir, 'merge-base', '--is-ancestor', sha, 'main^1').then(
      () => true,
      () => false,
    )),
  );
  // The others merged and landed; the escalated branch is kept, merged ones are gone.
  await assertMerged(s, 1, 'clean');
  await assertMerged(s, 3, 'clean');
  assert.ok(await refExists(s.repo.dir, 'refs/heads/work/7-2-beta'), 'escalated branch kept');
  assert.not.ok(await refExists(s.repo.dir, 'refs/heads/work/7-1-alpha'));
  assert.not.ok(await refExists(s.repo.dir, 'refs/heads/work/7-3-gamma'));
  assert.match(readFileSync(path.join(s.repo.stateDir, 'report.md'), 'utf8'), /#2 Beta \| escalated \|/);
  // The post-merge gate proved the integration worktree had no merge in progress and no leftovers.
  const gates = readEvents(s.repo).filter((e) => e.type === 'gate' && e.name === 'clean-integration');
  assert.ok(gates.length > 0 && gates.every((e) => e.exitCode === 0), JSON.stringify(gates));
}

/** A function both Alpha and Beta change differently. */
export const CALC = 'function total(a, b) {\n  return a + b;\n}\n';
/** Agent cases: Alpha adds one, Beta doubles. */
export const CALC_ITEMS = `item:1) printf 'function total(a, b) {\\n  return a + b + 1;\\n}\\n' > calc.js; commit plus-one; report COMPLETE "adds one";;
item:2) printf 'function total(a, b) {\\n  return (a + b) * 2;\\n}\\n' > calc.js; commit double; report COMPLETE "doubles";;`;

/**
 * Agent shell that waits until the runner has judged #1 (its agent-exited event), so #1 finishes, and merges, first.
 * Bounded (600 × 0.05 s) only against a hung test, not an ordering.
 */
export const AFTER_ONE = `i=0; until grep -q '"type":"agent-exited","issue":1,' "$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone/milestone-7/events.jsonl" 2>/dev/null || [ $i -ge 600 ]; do sleep 0.05; i=$((i + 1)); done;`;

/** Agent cases: Alpha adds one and `broken.txt` (which a gate refuses), Beta doubles once Alpha is judged. */
export const BREAKING_CALC_ITEMS = `item:1) printf 'function total(a, b) {\\n  return a + b + 1;\\n}\\n' > calc.js; echo x > broken.txt; commit plus-one; report COMPLETE;;
item:2) ${AFTER_ONE} printf 'function total(a, b) {\\n  return (a + b) * 2;\\n}\\n' > calc.js; commit double; report COMPLETE;;`;

/** Agent case: a conflict agent that resolves calc.js with its pid in a comment, logged to `conflict-agents`. */
export const CONFLICT_BY_PID = `conflict:*) echo "$$" >> "$tools/conflict-agents"; printf 'function total(a, b) {\\n  return (a + b) * 2 + 1; // %s\\n}\\n' "$$" > calc.js; report COMPLETE "resolved";;`;

/** The pids of the conflict agents `CONFLICT_BY_PID` started, in order. */
export function conflictAgentPids(tools: string): string[] {
  return readFileSync(path.join(tools, 'conflict-agents'), 'utf8').split('\n').filter(Boolean);
}
