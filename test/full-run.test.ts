/**
 * Whole milestones through `run.mts` (docs/steps.md, docs/errors.md): two waves of `command` agents land on a bare
 * origin with one `--no-ff` merge and nothing left behind; a second `run` does nothing; `main` moving under the run is
 * merged in and gated again; a prepare stash is reported by `complete` and is still there to restore.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import {
  git,
  parentsOf,
  readEvents,
  readStateFile,
  runSteps,
  snapshotRepo,
  STEPS_TO_MERGE,
} from './support/fixture.ts';
import { runInProcess, runMilestone, show } from './support/cli.ts';
import { type PlanItem, type PlanWave } from './support/plan.ts';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';

const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
  { issue: 3, title: 'Gamma' },
  { issue: 4, title: 'Delta' },
];

/** Every item writes its own file; Gamma copies Alpha's (so it must start from integration after wave 1). */
const AGENT = `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt;;
item:2) echo beta > b.txt;;
item:3) cp a.txt gamma.txt;;
item:4) echo delta > d.txt;;
*) exit 9;;
esac
commit "item $WM_ISSUE"
report COMPLETE "did #$WM_ISSUE"`;

const GATES = {
  'pre-merge': [{ name: 'readme', run: 'test -f README.md' }],
  'post-merge': [{ name: 'no-markers', run: "! grep -rqs '^<<<<<<<' --include='*.txt' ." }],
};

type Rig = AgentRig;

function rig(waves: readonly PlanWave[], items: typeof ITEMS): Promise<Rig> {
  return makeAgentRig({ title: 'Full run', items, waves, body: AGENT, gates: GATES, origin: true });
}

const ONE_WAVE: readonly PlanWave[] = [{ items: ITEMS.slice(0, 2) }];
const TWO_WAVES: readonly PlanWave[] = [
  ...ONE_WAVE,
  { items: [{ issue: 3, title: 'Gamma', dependsOn: [1] }, ITEMS[3] as PlanItem] },
];

const run = (r: Rig, ...flags: string[]) => runMilestone(r.repo, flags);

/** Commits on the first-parent line of `rev` in `dir`: `<sha> <parent count> <subject>`. */
async function firstParentLine(
  dir: string,
  rev: string,
): Promise<Array<{ sha: string; parents: number; subject: string }>> {
  const log = await git(dir, 'log', '--first-parent', '--format=%H%x09%P%x09%s', rev);
  return log.split('\n').map((l) => {
    const [sha = '', parents = '', subject = ''] = l.split('\t');
    return { sha, parents: parents.split(' ').filter(Boolean).length, subject };
  });
}

/** Nothing of the run is left in the repository: one worktree, no lock, no work/* or milestone/* branch. */
async function assertNothingLeft(r: Rig): Promise<void> {
  const worktrees = (await git(r.repo.dir, 'worktree', 'list', '--porcelain'))
    .split('\n')
    .filter((l) => l.startsWith('worktree '));
  assert.equal(worktrees, [`worktree ${r.repo.dir}`]);
  assert.not.ok(existsSync(path.join(r.repo.dir, 'worktrees')), 'worktrees/ removed');
  assert.not.ok(existsSync(path.join(r.repo.stateDir, 'run.lock')), 'run.lock released');
  assert.is(
    await git(r.repo.dir, 'for-each-ref', '--format=%(refname)', 'refs/heads/work', 'refs/heads/milestone'),
    '',
  );
  assert.is(await git(r.repo.dir, 'status', '--porcelain', '--untracked-files=all'), '');
}

test('full run: two waves, four items land on origin with one --no-ff merge; nothing left; a second run does nothing', async () => {
  const r = await rig(TWO_WAVES, ITEMS);
  try {
    const initial = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const state = readStateFile(r.repo);
    const origin = r.repo.origin as string;

    // Every item's change is on origin's main; Gamma saw Alpha's work.
    for (const [file, text] of [
      ['a.txt', 'alpha'],
      ['b.txt', 'beta'],
      ['gamma.txt', 'alpha'],
      ['d.txt', 'delta'],
    ]) {
      assert.is(await git(origin, 'show', `main:${file}`), text, file);
    }
    // One --no-ff merge of integration on main's first-parent line, on top of the old main.
    const line = await firstParentLine(origin, 'main');
    assert.equal(
      line.map((c) => [c.parents, c.subject]),
      [
        [2, 'Merge milestone 7: Full run'],
        [0, 'initial'],
      ],
    );
    assert.equal(await parentsOf(origin, 'main'), [initial, state.land.integration]);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), await git(origin, 'rev-parse', 'main'));
    assert.ok(state.land.pushed);
    // Each item came into integration by its own --no-ff merge.
    const merges = (await git(origin, 'log', '--merges', '--format=%s', 'main^2')).split('\n').sort();
    assert.equal(merges, ['Merge #1: Alpha', 'Merge #2: Beta', 'Merge #3: Gamma', 'Merge #4: Delta']);
    for (const item of ITEMS) {
      const st = state.items[String(item.issue)];
      assert.is(st.status, 'complete');
      assert.is(st.merge.kind, 'clean');
      const front = parseYaml(
        (await git(origin, 'show', `main:plan/backlog/${item.issue}.md`)).split('---\n')[1] ?? '',
      );
      assert.is(front.status, 'done', `#${item.issue} done on main`);
    }
    await assertNothingLeft(r);
    assert.is(await git(r.repo.dir, 'symbolic-ref', 'HEAD'), 'refs/heads/main');

    const report = readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8');
    assert.match(report, /^# Milestone 7: Full run/);
    for (const item of ITEMS)
      assert.match(
        report,
        new RegExp(`\\| ${item.issue <= 2 ? 1 : 2} \\| #${item.issue} ${item.title} \\| complete \\| clean \\|`),
      );
    assert.match(report, /pre-merge `readme`: exit 0/);
    assert.match(report, /post-merge `no-markers`: exit 0/);
    assert.match(report, /pushed to origin/);
    assert.is(r.agent.calls().length, 4);

    // Again (in this process: the script itself is proven above): every node is found done, nothing changes, no
    // agent starts.
    const events = readEvents(r.repo).length;
    const before = [await snapshotRepo(r.repo.dir), await git(origin, 'for-each-ref')];
    const again = await runInProcess('run', ['7', '--repo', r.repo.dir]);
    assert.is(again.code, 0, show(again));
    const later = readEvents(r.repo).slice(events);
    assert.equal([...new Set(later.map((e) => e.type))].sort(), ['run-end', 'run-start', 'step-skip']);
    const skipped = later.filter((e) => e.type === 'step-skip').map((e) => e.node);
    for (const node of [
      'validate',
      'prepare',
      'branch',
      'fetch',
      'worktrees@1#1',
      'worktrees@1#2',
      'wait@1',
      'merge@1',
      'relay@1',
      'merge@2',
      'relay@2',
      'gates',
      'land',
      'complete',
    ]) {
      assert.ok(skipped.includes(node), `${node} skipped (${skipped.join(' ')})`);
    }
    assert.equal([await snapshotRepo(r.repo.dir), await git(origin, 'for-each-ref')], before);
    assert.is(r.agent.calls().length, 4, 'no agent started');
    assert.is(later.at(-1)?.exitCode, 0);
  } finally {
    r.cleanup();
  }
});

test('main moved during the run (origin/main pushed by someone else, local main committed): merged in, gates again, landed', async () => {
  const r = await rig(ONE_WAVE, ITEMS.slice(0, 2));
  try {
    // Set-up in this process (the steps' scripts are run elsewhere): the milestone up to its gates.
    const steps = await runSteps(r.repo, [...STEPS_TO_MERGE, ['relay', '--wave', '1'], ['gates']], 7, true);
    assert.ok(steps.length === 9 && steps.every((s) => s.code === 0), steps.map(show).join('\n'));
    const greenBefore = readStateFile(r.repo).gates.sha;

    const other = path.join(r.tools, 'other');
    await git(r.tools, 'clone', '-q', r.repo.origin as string, other);
    writeFileSync(path.join(other, 'upstream.txt'), 'upstream\n');
    await git(other, 'add', 'upstream.txt');
    await git(other, '-c', 'user.name=Other', '-c', 'user.email=other@example.com', 'commit', '-qm', 'upstream change');
    await git(other, 'push', '-q', 'origin', 'main');
    const upstream = await git(other, 'rev-parse', 'HEAD');
    writeFileSync(path.join(r.repo.dir, 'local.txt'), 'local\n');
    await git(r.repo.dir, 'add', 'local.txt');
    await git(r.repo.dir, 'commit', '-qm', 'local change');
    const local = await git(r.repo.dir, 'rev-parse', 'HEAD');

    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const origin = r.repo.origin as string;
    for (const file of ['a.txt', 'b.txt', 'upstream.txt', 'local.txt'])
      assert.ok(
        await git(origin, 'cat-file', '-e', `main:${file}`).then(
          () => true,
          () => false,
        ),
        file,
      );
    assert.equal(await parentsOf(origin, 'main'), [local, readStateFile(r.repo).land.integration]);
    assert.ok(
      await git(origin, 'merge-base', '--is-ancestor', upstream, 'main').then(
        () => true,
        () => false,
      ),
    );
    const subjects = (await git(origin, 'log', '--merges', '--format=%s', 'main^2')).split('\n');
    assert.ok(subjects.includes('Merge main into milestone/7-full-run'), subjects.join('\n'));
    assert.ok(subjects.includes('Merge origin/main into milestone/7-full-run'), subjects.join('\n'));
    // The gates ran again, green, on an integration commit that has both outside changes.
    const green = readStateFile(r.repo).gates.sha;
    assert.is.not(green, greenBefore);
    for (const file of ['upstream.txt', 'local.txt'])
      assert.ok(
        await git(r.repo.dir, 'cat-file', '-e', `${green}:${file}`).then(
          () => true,
          () => false,
        ),
      );
    const regated = readEvents(r.repo).filter((e) => e.type === 'gate' && e.sha === green);
    assert.equal(
      regated.map((e) => [e.name, e.exitCode]),
      [
        ['readme', 0],
        ['no-markers', 0],
      ],
    );
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), await git(origin, 'rev-parse', 'main'));
    await assertNothingLeft(r);
  } finally {
    r.cleanup();
  }
});

test('a prepare stash: complete prints the reminder, and the stash is still there to restore', async () => {
  const r = await rig([{ items: ITEMS.slice(0, 1) }], ITEMS.slice(0, 1));
  try {
    writeFileSync(path.join(r.repo.dir, 'README.md'), '# test repo\nwork in progress\n');
    writeFileSync(path.join(r.repo.dir, 'notes.txt'), 'untracked notes\n');
    const result = await run(r, '--yes');
    assert.is(result.code, 0, show(result));
    const prep = readStateFile(r.repo).prepare;
    assert.is(prep.kind, 'stashed');
    assert.match(prep.sha, /^[0-9a-f]{40}$/);
    const reminder = `Auto-stash ref ${prep.sha} pending; run 'git stash pop ${prep.sha}' to restore.`;
    assert.ok(result.stderr.split('\n').includes(reminder), result.stderr);
    assert.ok(readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8').includes(reminder));
    assert.equal((await git(r.repo.dir, 'stash', 'list', '--format=%H %gs')).split('\n'), [
      `${prep.sha} On main: work-milestone: pre-run main`,
    ]);
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha', 'landed under the stash');
    // The recorded sha is the stash: applying it brings the user's work back, tracked and untracked.
    // (`git stash pop <sha>`, as the reminder says, is refused by git 2.39: "is not a stash reference".)
    await git(r.repo.dir, 'stash', 'apply', '-q', prep.sha);
    assert.is(readFileSync(path.join(r.repo.dir, 'README.md'), 'utf8'), '# test repo\nwork in progress\n');
    assert.is(readFileSync(path.join(r.repo.dir, 'notes.txt'), 'utf8'), 'untracked notes\n');
  } finally {
    r.cleanup();
  }
});

test('a repository that does not ignore node_modules: it is neither dirty work nor stashed, and stays in place', async () => {
  const r = await rig([{ items: ITEMS.slice(0, 1) }], ITEMS.slice(0, 1));
  try {
    mkdirSync(path.join(r.repo.dir, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(path.join(r.repo.dir, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
    // Only node_modules untracked: nothing to stash, no question asked (no --yes).
    const clean = await run(r);
    assert.is(clean.code, 0, show(clean));
    assert.is(readStateFile(r.repo).prepare.kind, 'clean');
    assert.ok(existsSync(path.join(r.repo.dir, 'node_modules', 'dep', 'index.js')), 'kept in place');
  } finally {
    r.cleanup();
  }
  const dirty = await rig([{ items: ITEMS.slice(0, 1) }], ITEMS.slice(0, 1));
  try {
    mkdirSync(path.join(dirty.repo.dir, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(path.join(dirty.repo.dir, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
    writeFileSync(path.join(dirty.repo.dir, 'README.md'), '# test repo\nwork in progress\n');
    const result = await run(dirty, '--yes');
    assert.is(result.code, 0, show(result));
    const prep = readStateFile(dirty.repo).prepare;
    assert.is(prep.kind, 'stashed');
    assert.ok(existsSync(path.join(dirty.repo.dir, 'node_modules', 'dep', 'index.js')), 'not stashed');
    assert.equal(
      (await git(dirty.repo.dir, 'show', '--name-only', '--format=', `${prep.sha}^3`).catch(() => ''))
        .split('\n')
        .filter(Boolean),
      [],
      'nothing untracked in the stash',
    );
    assert.match(await git(dirty.repo.dir, 'show', '--name-only', '--format=', prep.sha), 'README.md');
  } finally {
    dirty.cleanup();
  }
});

test.run();
