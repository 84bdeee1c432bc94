/**
 * The gates check the tree that lands, whatever agents did to the integration worktree's checkout. Files hidden from
 * it (sparse-checkout, skip-worktree marks): the gates would run on part of the tree, and a gate that finds nothing to
 * check passes; when the checkout the runner is run from is not sparse, the runner makes the integration worktree
 * whole before the gates (a notice says so). Untracked files an agent left there (a config that turns a check off):
 * moved aside, kept in the gate run's log folder. Agents wait on files, never on time.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { overlappingPairBody } from './support/hostile.ts';
import { git, readEvents, readStateFile, runSteps, STEPS_TO_MERGE } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

/** The integration worktree, from an item worktree (its sibling under worktrees/). */
const INTEGRATION = '../milestone-7';

const rig = (hide: string, gated = true) =>
  makeAgentRig({
    title: 'Hostile sparse',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > src/a.txt; commit alpha; ${hide}; report COMPLETE;;
*) exit 9;;
esac`,
    // Finds nothing to check when src/ is not there (grep exits 2, and `!` makes that a pass).
    gates: gated ? { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG src' }] } : undefined,
    defaults: { 'max-fix-attempts': 0 },
    files: { 'docs/readme.txt': 'docs\n', 'src/a.txt': 'OK\n' },
  });

for (const [what, hide] of [
  ['sparse-checkout set docs', `git -C ${INTEGRATION} sparse-checkout set docs`],
  [
    'skip-worktree marks',
    `git -C ${INTEGRATION} update-index --skip-worktree src/a.txt && rm ${INTEGRATION}/src/a.txt`,
  ],
] as const) {
  test(`an agent hides files from the integration worktree (${what}): the gates see the whole tree`, async () => {
    const r = await rig(hide);
    try {
      const main = await git(r.repo.dir, 'rev-parse', 'main');
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 1, show(result));
      assert.match(result.stderr, /gate "no-bug" \(post-merge\) still fails/);
      assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
      const notices = readEvents(r.repo)
        .filter((e) => e.type === 'notice')
        .map((e) => String(e.message));
      assert.ok(
        notices.some((m) => /had files hidden from its checkout .*: made whole before the gates/.test(m)),
        notices.join('\n'),
      );
      assert.not.ok(readStateFile(r.repo).land, 'landed');
    } finally {
      r.cleanup();
    }
  });
}

test('without gates: a sparse integration worktree is made whole all the same, and the milestone lands', async () => {
  // Landing writes the backlog files in that checkout: left sparse, every landing stopped ("does not exist").
  const r = await rig(`git -C ${INTEGRATION} sparse-checkout set docs`, false);
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.ok(readStateFile(r.repo).land, 'landed');
    assert.match(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'BUG', 'the item landed');
    assert.ok(
      readEvents(r.repo).some((e) => e.type === 'notice' && /made whole before the gates/.test(e.message)),
      'said so',
    );
  } finally {
    r.cleanup();
  }
});

/**
 * Two agents at work at once (`overlappingPairBody`): #1 runs the shell `hostile`, then commits a bug in src/a.txt,
 * which the gate `gate` is to find; #2 commits b.txt.
 */
const pairRig = (hostile: string, gate: string, files: Readonly<Record<string, string>> = {}) =>
  makeAgentRig({
    title: 'Hostile sparse',
    items: ITEMS,
    waves: [{ items: ITEMS }],
    body: overlappingPairBody(
      hostile,
      'echo BUG > src/a.txt; commit alpha; report COMPLETE',
      'echo b > b.txt; commit beta; report COMPLETE',
    ),
    gates: { 'post-merge': [{ name: 'no-bug', run: gate }] },
    defaults: { 'max-fix-attempts': 0, concurrency: 2 },
    files: { 'src/a.txt': 'OK\n', ...files },
  });

const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
];

test('an untracked file an agent leaves in the integration worktree is moved aside before the gates', async () => {
  // skip-checks turns the gate off.
  const r = await pairRig(`echo on > ${INTEGRATION}/skip-checks`, '[ -e skip-checks ] || ! grep -rq BUG src');
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    // The gate sees the bug: bisection finds #1, it is ejected, and the rest lands.
    assert.is(result.code, 3, show(result));
    assert.is(readStateFile(r.repo).items['1'].status, 'ejected');
    assert.is(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'OK', 'the bug did not land');
    assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'b');
    const moved = readEvents(r.repo).find(
      (e) => e.type === 'notice' && /untracked files .*: skip-checks: moved aside before the gates/.test(e.message),
    );
    assert.ok(moved, 'said so');
    const kept = /moved aside before the gates.*; they are in (\S+)$/.exec(moved.message)?.[1] ?? '';
    assert.is(readFileSync(path.join(kept, 'skip-checks'), 'utf8'), 'on\n', 'kept');
  } finally {
    r.cleanup();
  }
});

for (const [how, ignore] of [
  ['.git/info/exclude', `echo /skip-checks >> "$(git rev-parse --path-format=absolute --git-common-dir)/info/exclude"`],
  ['an untracked .gitignore', `printf '*\\n' > ${INTEGRATION}/src/.gitignore`],
] as const)
  test(`an untracked file an agent also hides with ${how} is moved aside all the same`, async () => {
    const hidden = how === '.git/info/exclude' ? 'skip-checks' : 'src/skip-checks';
    const r = await pairRig(`echo on > ${INTEGRATION}/${hidden}; ${ignore}`, `[ -e ${hidden} ] || ! grep -rq BUG src`);
    try {
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 3, show(result));
      assert.is(readStateFile(r.repo).items['1'].status, 'ejected');
      assert.is(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'OK', 'the bug did not land');
    } finally {
      r.cleanup();
    }
  });

test('a tracked file changed in the integration worktree behind git stat cache (trustctime off) is put back', async () => {
  // Same size, same mtime, and git told not to look at ctime: a plain `git status` sees nothing.
  const check = 'grep -q BUG src/a.txt && exit 1; exit 0\n';
  const r = await pairRig(
    // An old mtime, recorded by a refresh: the index entry is then not "racily clean", which git would look into.
    `git config core.trustctime false; git config core.checkStat minimal
  f=${INTEGRATION}/check.sh; touch -d @1000000000 "$f"; git -C ${INTEGRATION} update-index -q --refresh
  printf '%-${check.length - 1}s\\n' 'exit 0' > "$f"; touch -d @1000000000 "$f"`,
    'sh check.sh',
    { 'check.sh': check },
  );
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    assert.is(readStateFile(r.repo).items['1'].status, 'ejected');
    assert.is(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'OK', 'the bug did not land');
    assert.ok(
      readEvents(r.repo).some(
        (e) => e.type === 'notice' && /had uncommitted changes to check\.sh: put back to HEAD/.test(e.message),
      ),
      'said so',
    );
  } finally {
    r.cleanup();
  }
});

/**
 * One item that commits a bug into src/a.txt, and a gate that finds it, run by single steps up to the merge: what a
 * process does next, before the gates, is the test's.
 */
async function bugMergedBySteps() {
  const r = await makeAgentRig({
    title: 'Hostile sparse',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > src/a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG src' }] },
    defaults: { 'max-fix-attempts': 0 },
    files: { 'src/a.txt': 'OK\n' },
  });
  const steps = await runSteps(r.repo, STEPS_TO_MERGE, 7, true);
  const last = steps[steps.length - 1];
  assert.ok(steps.length === STEPS_TO_MERGE.length && last?.code === 0, last && show(last));
  return r;
}

test("a process points the integration worktree's .git at an admin folder of another repository: made again", async () => {
  // What a process left behind can do between the merge and the gates: the admin folder it adds under .git/worktrees
  // names a clone of its own as the common dir, where the integration branch is main. git in the worktree would
  // then read that clone's tree (no bug), and put back the checkout to it before the gates.
  const r = await bugMergedBySteps();
  try {
    const evil = path.join(r.tools, 'evil');
    await git(r.tools, 'clone', '-q', r.repo.dir, evil);
    await git(evil, 'branch', 'milestone/7-hostile-sparse', 'origin/main');
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    const admin = path.join(r.repo.dir, '.git', 'worktrees', 'evil');
    mkdirSync(admin);
    writeFileSync(path.join(admin, 'HEAD'), 'ref: refs/heads/milestone/7-hostile-sparse\n');
    writeFileSync(path.join(admin, 'commondir'), `${path.join(evil, '.git')}\n`);
    writeFileSync(path.join(admin, 'gitdir'), `${path.join(integration, '.git')}\n`);
    writeFileSync(path.join(integration, '.git'), `gitdir: ${admin}\n`);
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is.not(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'OK', 'the bug did not land');
    assert.not.ok(readStateFile(r.repo).land, 'landed');
    assert.ok(
      readEvents(r.repo).some(
        (e) => e.type === 'notice' && /the integration worktree .* belongs to another repository/.test(e.message),
      ),
      'said so',
    );
  } finally {
    r.cleanup();
  }
});

test('git in the integration worktree working on another folder (core.worktree, kept with --adopt): no gate runs', async () => {
  const r = await bugMergedBySteps();
  try {
    // A folder holding main's files: the gates run in the worktree's own folder, git would look at this one.
    const elsewhere = path.join(r.tools, 'elsewhere');
    await git(r.tools, 'clone', '-q', r.repo.dir, elsewhere);
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    await git(r.repo.dir, 'config', 'extensions.worktreeConfig', 'true');
    await git(integration, 'config', '--worktree', 'core.worktree', elsewhere);
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push', '--adopt']);
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, `git in the integration worktree ${integration} works on ${elsewhere} instead`);
    assert.not.ok(readStateFile(r.repo).gates, 'no gate verdict');
    assert.not.ok(readStateFile(r.repo).land, 'landed');
  } finally {
    r.cleanup();
  }
});

test('the integration worktree pointed elsewhere while the gates ran: their verdict is not used (exit 3)', async () => {
  // The gate itself stands for a process at work during the run.
  const r = await makeAgentRig({
    title: 'Hostile sparse',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo a > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'sneaky', run: "printf 'gitdir: /nowhere\\n' > .git" }] },
  });
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    assert.match(
      result.stderr,
      'lost its git admin folder /nowhere after the gates ran (not by the runner); their result',
    );
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
    assert.is(readStateFile(r.repo).gates, null, 'no verdict recorded');
  } finally {
    r.cleanup();
  }
});

test('more than 10 000 untracked entries: the gates step stops (exit 3) with the command that removes them', async () => {
  const r = await pairRig(
    `i=0; while [ $i -le 10000 ]; do : > ${INTEGRATION}/junk-$i; i=$((i + 1)); done`,
    '! grep -rq BUG src',
  );
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    assert.match(
      result.stderr,
      `${integration} holds more than 10000 untracked files or folders that nobody committed;`,
    );
    assert.match(result.stderr, `(git -C ${integration} clean -fd)`);
    assert.ok(existsSync(path.join(integration, 'junk-10000')), 'nothing moved');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
  } finally {
    r.cleanup();
  }
});

test.run();
