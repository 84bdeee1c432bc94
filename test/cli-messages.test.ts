/**
 * Messages that point at the fix (docs/errors.md): "did you mean" for a misspelt flag, command, step and plan key;
 * hints in the words the user typed (the bin or a script); a missing plan lists the plans; a stale item names its
 * backlog file; a red gate names where to fix and the commands; a failed item shows its report's NOTES first; items
 * failed and gates red say both, with the gate's exit code. Each: its exact text, its exit code, the repository
 * unchanged
 * where nothing may change.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { editDistance, closestWord } from '../tasks/lib/did-you-mean.ts';
import { git, makeRepo, ROOT, show, snapshotRepo, type CliResult, type TestRepo } from './support/fixture.ts';
import { runInProcess, runProcess } from './support/cli.ts';
import { commandDefaults, planYaml } from './support/plan.ts';

const BIN = path.join(ROOT, 'bin', 'work-milestone.mjs');
const ITEMS = [
  { issue: 1, title: 'One' },
  { issue: 2, title: 'Two' },
];
const PLAN = planYaml({
  title: 'Messages',
  waves: [{ items: ITEMS }],
  defaults: commandDefaults('true'),
});

/** Exit `code`, `stderr` exactly `text` (one line), nothing on stdout. */
function assertExactly(r: CliResult, code: number, text: string): void {
  assert.is(r.code, code, show(r));
  assert.is(r.stderr, `${text}\n`, show(r));
  assert.is(r.stdout, '', show(r));
}

const PLAN_8 = { title: 'Eight', waves: [{ items: [{ issue: 9, title: 'Nine' }] }] };

let repo: TestRepo;

test.before(async () => {
  repo = await makeRepo({ plan: PLAN, items: ITEMS });
  // A second plan, for the list of existing plans.
  writeFileSync(path.join(repo.dir, 'plan', 'milestone-8-dispatch.yaml'), planYaml({ milestone: 8, ...PLAN_8 }));
  await git(repo.dir, 'add', '-A');
  await git(repo.dir, 'commit', '-qm', 'plan 8');
});
test.after(() => repo.cleanup());

test('edit distance: swaps count once; closest word within 2 edits, short words within 1', () => {
  assert.is(editDistance('concurency', 'concurrency'), 1);
  assert.is(editDistance('mrege', 'merge'), 1);
  assert.is(editDistance('abc', 'abc'), 0);
  assert.is(closestWord('rn', ['run', 'step', 'reset']), 'run');
  assert.is(closestWord('xy', ['run', 'step']), null);
  assert.is(closestWord('deploy', ['run', 'step', 'plan', 'status', 'gates', 'list', 'reset', 'demo']), null);
  assert.is(closestWord('--concurency', ['--concurrency', '--agent']), '--concurrency');
});

test('did you mean: a misspelt flag, step and shell (in process), the repository unchanged', async () => {
  const before = await snapshotRepo(repo.dir);
  const flag = await runInProcess('run', ['7', '--concurency', '2', '--repo', repo.dir]);
  assertExactly(flag, 2, 'unknown flag --concurency; did you mean --concurrency?');
  const noPush = await runInProcess('run', ['7', '--no-pus', '--repo', repo.dir]);
  assertExactly(noPush, 2, 'unknown flag --no-pus; did you mean --no-push?');
  const far = await runInProcess('run', ['7', '--frobnicate', '--repo', repo.dir]);
  assertExactly(far, 2, 'unknown flag --frobnicate; see --help');
  const step = await runInProcess('step', ['mrege', '7', '--repo', repo.dir]);
  assertExactly(step, 2, 'unknown step "mrege"; did you mean "merge"?');
  const shell = await runInProcess('completion', ['bsh']);
  assertExactly(shell, 2, 'no completion for shell "bsh"; did you mean "bash"?');
  assert.is(await snapshotRepo(repo.dir), before);
});

test('did you mean: a misspelt plan key keeps file:line:col; exit 2, nothing changed', async () => {
  const bad = await makeRepo({
    plan: planYaml({ title: 'Typo', waves: [{ items: ITEMS }], defaults: { concurency: 2, agent: 'command' } }),
    items: ITEMS,
  });
  try {
    const before = await snapshotRepo(bad.dir);
    const r = await runInProcess('plan', ['7', '--repo', bad.dir]);
    const line = lineOfTypo(bad);
    assertExactly(
      r,
      2,
      `plan/milestone-7-dispatch.yaml:${line}:3 error: unknown key "concurency" in defaults; did you mean "concurrency"?`,
    );
    assert.is(await snapshotRepo(bad.dir), before);
  } finally {
    bad.cleanup();
  }
});

test('a size the plan gets wrong (max-output): one sentence at file:line:col; exit 2, nothing changed', async () => {
  const bad = await makeRepo({
    plan: planYaml({
      title: 'Sizes',
      waves: [{ items: ITEMS.map((it, i) => (i === 0 ? { ...it, extra: { 'max-output': '1KiB' } } : it)) }],
      defaults: { agent: 'command', 'max-output': 'lots' },
    }),
    items: ITEMS,
  });
  try {
    const before = await snapshotRepo(bad.dir);
    const r = await runInProcess('run', ['7', '--repo', bad.dir, '--no-push']);
    const text = readFileSync(path.join(bad.dir, 'plan', 'milestone-7-dispatch.yaml'), 'utf8').split('\n');
    const at = (needle: string) => {
      const line = text.findIndex((l) => l.includes(needle));
      return `${line + 1}:${(text[line] ?? '').indexOf(needle) + needle.indexOf(':') + 3}`;
    };
    assert.is(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      `plan/milestone-7-dispatch.yaml:${at('max-output: lots')} error: defaults.max-output must be a size: bytes, ` +
        'or a number with KiB, MiB or GiB (e.g. 512MiB)',
    );
    assert.match(
      r.stderr,
      `plan/milestone-7-dispatch.yaml:${at('max-output: 1KiB')} error: ` +
        'waves[0].items[0].max-output must be at least 64KiB',
    );
    assert.is(r.stderr.trim().split('\n').length, 2, `one sentence for each: ${r.stderr}`);
    assert.is(await snapshotRepo(bad.dir), before);
  } finally {
    bad.cleanup();
  }
});

/** The line of `concurency:` in the plan file (yaml.stringify places it). */
function lineOfTypo(r: TestRepo): number {
  const text = readFileSync(path.join(r.dir, 'plan', 'milestone-7-dispatch.yaml'), 'utf8');
  return text.split('\n').findIndex((l) => l.includes('concurency:')) + 1;
}

test('the bin: a misspelt command, and usage in the bin words (one process)', async () => {
  const bin = (args: string[]) => runProcess(process.execPath, [BIN, ...args], { cwd: repo.dir });
  const [rn, run] = await Promise.all([bin(['rn', '3']), bin(['run'])]);
  assertExactly(rn, 2, 'work-milestone: unknown command "rn"; did you mean "run"?');
  assertExactly(run, 2, 'missing milestone number; usage: npx work-milestone run <N> [flags]; see --help');
});

test('hints in the words typed: a script says npx zx scripts/…, the bin npx work-milestone …', async () => {
  const script = await runInProcess('step', ['merge', '--repo', repo.dir]);
  assertExactly(script, 2, 'missing milestone number; usage: npx zx scripts/step.mts <step> <N> [flags]; see --help');
  const viaBin = await runInProcess('step', ['merge', '--repo', repo.dir], { entry: 'bin' });
  assertExactly(viaBin, 2, 'missing milestone number; usage: npx work-milestone step <step> <N> [flags]; see --help');
  // A prerequisite not done names the step to run, in the bin's words.
  const before = await snapshotRepo(repo.dir);
  const prereq = await runInProcess('step', ['branch', '7', '--repo', repo.dir], { entry: 'bin' });
  assert.is(prereq.code, 2, show(prereq));
  assert.is(
    prereq.stderr,
    'step branch needs prepare, which is not done (the working tree is not checked yet); run: npx work-milestone step prepare 7\n',
  );
  assert.is(await snapshotRepo(repo.dir), before);
  // status names the next command the same way.
  const status = await runInProcess('status', ['7', '--repo', repo.dir, '--json'], { entry: 'bin' });
  assert.is(JSON.parse(status.stdout).next, '`npx work-milestone run 7` continues (re-attaching to live agents)');
  const scriptStatus = await runInProcess('status', ['7', '--repo', repo.dir, '--json']);
  assert.is(JSON.parse(scriptStatus.stdout).next, '`npx zx scripts/run.mts 7` continues (re-attaching to live agents)');
});

test('a missing plan lists the plans that exist; exit 2, nothing changed', async () => {
  const before = await snapshotRepo(repo.dir);
  const r = await runInProcess('run', ['9', '--repo', repo.dir]);
  assertExactly(r, 2, 'plan/milestone-9-dispatch.yaml: no such plan file; the plans in plan/ are for milestones 7, 8');
  assert.is(await snapshotRepo(repo.dir), before);
});

test('a plan a sparse checkout leaves out is named as such, with the command that brings it back; exit 2', async () => {
  const sparse = await makeRepo({ plan: PLAN, items: ITEMS, files: { 'src/a.txt': 'a\n' } });
  try {
    await git(sparse.dir, 'sparse-checkout', 'set', 'src');
    const before = await snapshotRepo(sparse.dir);
    const r = await runInProcess('run', ['7', '--repo', sparse.dir]);
    assertExactly(
      r,
      2,
      'plan/milestone-7-dispatch.yaml: committed, but not in the working tree (a sparse checkout that leaves plan/ ' +
        'out: git sparse-checkout add plan; or deleted: git restore plan/milestone-7-dispatch.yaml)',
    );
    assert.is(await snapshotRepo(sparse.dir), before);
  } finally {
    sparse.cleanup();
  }
});

test('the dirty tree names --yes in the bin words; exit 2, nothing changed', async () => {
  const dirty = await makeRepo({ plan: PLAN, items: ITEMS });
  try {
    writeFileSync(path.join(dirty.dir, 'scratch.txt'), 'local\n');
    const before = await snapshotRepo(dirty.dir);
    const r = await runInProcess('run', ['7', '--repo', dirty.dir], { entry: 'bin' });
    assert.is(r.code, 2, show(r));
    assert.is(
      r.stderr.trim().split('\n').pop(),
      'Aborting: working tree is dirty (1 path(s): scratch.txt); commit or stash your changes and re-run, or re-run with --yes to have them stashed: npx work-milestone run 7 --yes',
    );
    assert.is(await snapshotRepo(dirty.dir), before);
  } finally {
    dirty.cleanup();
  }
});

test('a stale item names its backlog file; exit 2, nothing changed', async () => {
  const stale = await makeRepo({
    plan: PLAN,
    items: [
      { issue: 1, title: 'One' },
      { issue: 2, title: 'Two', status: 'done' },
    ],
  });
  try {
    const before = await snapshotRepo(stale.dir);
    const r = await runInProcess('run', ['7', '--repo', stale.dir]);
    assert.is(r.code, 2, show(r));
    assert.is(r.stderr.trim().split('\n').pop(), 'plan is stale: #2 is done (plan/backlog/2.md); regroom milestone 7');
    assert.is(await snapshotRepo(stale.dir), before);
  } finally {
    stale.cleanup();
  }
});

test('an item failed and the gates are red: both said, NOTES first, the gate and the commands; exit 1', async () => {
  // #1 commits and completes; #2 writes its report with NOTES, says on stderr why, and exits 1; the gate is red.
  const agent = [
    'if [ "$WM_ISSUE" = 2 ]; then',
    "  printf 'STATUS: FAILED\\nNOTES: the parser module is missing\\n'; echo 'boom: exit status of the tool' >&2; exit 1",
    'fi',
    `printf '%s\\n' "$WM_ISSUE" > "item-$WM_ISSUE.txt" && git add -A && git commit -qm "item $WM_ISSUE"`,
    `printf 'STATUS: COMPLETE\\nNOTES: done\\n'`,
  ].join('\n');
  const red = await makeRepo({
    plan: planYaml({
      title: 'Red',
      waves: [{ items: ITEMS }],
      defaults: commandDefaults(agent, { 'max-fix-attempts': 0 }),
      // Red everywhere; for some files only, so red on main too blames nothing and the fix agents (none) get it.
      gates: { 'post-merge': [{ name: 'tests', run: 'echo "1 test failed" && exit 4', files: ['item-*'] }] },
    }),
    items: ITEMS,
  });
  try {
    const r = await runInProcess('run', ['7', '--repo', red.dir]);
    assert.is(r.code, 1, show(r));
    const lines = r.stderr.trim().split('\n');
    const worktree = path.join(red.dir, 'worktrees', 'milestone-7');
    assert.match(
      r.stderr,
      /^gate "tests" \(post-merge\) still fails on milestone\/7-red after 0 fix attempt\(s\) \(exit 4\); log: .*$/m,
    );
    assert.ok(
      lines.includes(
        `fix it in ${worktree} and commit, then run \`npx zx scripts/run.mts 7 --adopt\` (or \`npx zx scripts/run.mts 7\` to give fix agents another try)`,
      ),
      r.stderr,
    );
    assert.ok(lines.includes('milestone 7 needs attention:'), r.stderr);
    const item = lines.find((l) => l.startsWith('  #2 failed: ')) ?? '';
    assert.match(item, /^ {2}#2 failed: NOTES: the parser module is missing; then: /, r.stderr);
    assert.is(
      lines.at(-1),
      'Fix the cause, then run `npx zx scripts/run.mts 7` again: it retries the failed and skipped items and lands them.',
    );
  } finally {
    red.cleanup();
  }
});

test.run();
