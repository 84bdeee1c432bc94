/**
 * Every step runnable alone and converging from a half-done state (docs/steps.md), part 2: prepare and
 * branch, and every step of a milestone run twice in a row (the second a no-op; complete after a landing). States are
 * made by hand with git and by editing state.json; the steps run in this process (`main()` as
 * step.mts calls it: the steps' work without a CLI start each).
 * (worktrees, wait, merge, land, complete: converge.test.ts.)
 *
 * prepare and branch run under both schedules (the final `run` resumes through the waves or the dag graph); "every
 * step twice" only under `waves`: it runs steps, which are nodes of the waves graph whatever the schedule.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, refExists } from './support/fixture.ts';
import { show, waitFor } from './support/wave-rig.ts';
import {
  assertLanded,
  BRANCH,
  integrationDir,
  itemDir,
  makeRig,
  runIn as run,
  stateOf,
  stepIn as step,
  stateText,
  stepsOk,
  stepTwice,
} from './support/converge-rig.ts';

const SCHEDULES = ['waves', 'dag'] as const;
const STASH_MESSAGE = 'work-milestone: pre-run main';

for (const schedule of SCHEDULES)
  test(`${schedule}: prepare: a stash made but not recorded is found and recorded (an older one of the same name is not), and kept`, async () => {
    const rig = await makeRig({ schedule });
    try {
      // An older stash with our message (a previous milestone's), dated an hour ago.
      writeFileSync(path.join(rig.repo.dir, 'old.txt'), 'old\n');
      const hourAgo = `${Math.floor(Date.now() / 1000) - 3600} +0000`;
      execFileSync('git', ['stash', 'push', '-q', '-u', '-m', STASH_MESSAGE], {
        cwd: rig.repo.dir,
        env: { ...process.env, GIT_COMMITTER_DATE: hourAgo, GIT_AUTHOR_DATE: hourAgo },
      });
      const old = await git(rig.repo.dir, 'rev-parse', 'stash@{0}');
      // The user's work in progress; validate, then the stash prepare would make, but no record of it (a crash).
      writeFileSync(path.join(rig.repo.dir, 'README.md'), '# test repo\nlocal edit\n');
      writeFileSync(path.join(rig.repo.dir, 'scratch.txt'), 'untracked\n');
      await stepsOk(rig, ['validate']);
      await git(rig.repo.dir, 'stash', 'push', '-q', '-u', '-m', STASH_MESSAGE);
      const ours = await git(rig.repo.dir, 'rev-parse', 'stash@{0}');
      assert.is(stateOf(rig.repo).prepare, null);

      // No --yes and no TTY: had it seen a dirty tree it would abort; it finds the stash instead.
      const r = await step(rig.repo, 'prepare', [], rig.env);
      assert.is(r.code, 0, show(r));
      const prep = stateOf(rig.repo).prepare;
      assert.is(prep.kind, 'stashed');
      assert.is(prep.sha, ours);
      assert.is(prep.branch, 'main');
      assert.equal(
        (await git(rig.repo.dir, 'stash', 'list', '--format=%H')).split('\n'),
        [ours, old],
        'both stashes kept',
      );
      const again = await step(rig.repo, 'prepare', [], rig.env);
      assert.is(again.code, 0, show(again));
      assert.equal(stateOf(rig.repo).prepare, prep);

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.match(landed.stderr, `Auto-stash ref ${ours} pending; run 'git stash pop ${ours}' to restore.`);
      assert.equal((await git(rig.repo.dir, 'stash', 'list', '--format=%H')).split('\n'), [ours, old]);
      assert.is(await git(rig.repo.dir, 'show', `${ours}^3:scratch.txt`), 'untracked');
    } finally {
      rig.cleanup();
    }
  });

for (const schedule of SCHEDULES)
  test(`${schedule}: branch: created with its integration worktree but not recorded → resumed without --adopt`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, ['validate', 'prepare']);
      const main = await git(rig.repo.dir, 'rev-parse', 'main');
      // What branch does before it records anything: exclude the worktree folder, add the branch in its worktree.
      appendFileSync(path.join(rig.repo.dir, '.git', 'info', 'exclude'), '/worktrees/\n');
      await git(rig.repo.dir, 'worktree', 'add', '-q', '-b', BRANCH, integrationDir(rig.repo), 'main');
      assert.is(stateOf(rig.repo).branch, null);

      const r = await step(rig.repo, 'branch', [], rig.env);
      assert.is(r.code, 0, show(r));
      const recorded = stateOf(rig.repo).branch;
      assert.equal([recorded.name, recorded.base, recorded.worktree], [BRANCH, main, integrationDir(rig.repo)]);
      assert.is(await git(integrationDir(rig.repo), 'symbolic-ref', '--short', 'HEAD'), BRANCH);
      assert.match(
        readFileSync(path.join(rig.repo.dir, '.git', 'info', 'exclude'), 'utf8'),
        /^\.claude\/kage-bunshin\.lock$/m,
      );
      assert.is(await git(rig.repo.dir, 'status', '--porcelain', '--untracked-files=all'), '');

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.equal(rig.starts(), ['1', '2']);
    } finally {
      rig.cleanup();
    }
  });

for (const schedule of SCHEDULES)
  test(`${schedule}: branch: the user's own branch of that name, without our worktree → exit 2 asking for --adopt; --adopt continues on it`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, ['validate', 'prepare']);
      const main = await git(rig.repo.dir, 'rev-parse', 'main');
      // The user's branch, with a commit of their own, checked out nowhere.
      await git(rig.repo.dir, 'branch', BRANCH, 'main');
      const tmp = path.join(rig.repo.root, 'user-wt');
      await git(rig.repo.dir, 'worktree', 'add', '-q', tmp, BRANCH);
      writeFileSync(path.join(tmp, 'user.txt'), 'mine\n');
      await git(tmp, 'add', 'user.txt');
      await git(tmp, 'commit', '-qm', 'user work');
      await git(rig.repo.dir, 'worktree', 'remove', tmp);
      const userTip = await git(rig.repo.dir, 'rev-parse', BRANCH);

      const refused = await step(rig.repo, 'branch', [], rig.env);
      assert.is(refused.code, 2, show(refused));
      assert.match(
        refused.stderr,
        `branch ${BRANCH} already exists and milestone 7 has no state; pass --adopt to continue on it, or delete it`,
      );
      assert.is(stateOf(rig.repo).branch, null);
      assert.not.ok(existsSync(integrationDir(rig.repo)), 'a worktree was made for a branch not ours');
      assert.is(await git(rig.repo.dir, 'rev-parse', BRANCH), userTip);

      const adopted = await step(rig.repo, 'branch', ['--adopt'], rig.env);
      assert.is(adopted.code, 0, show(adopted));
      assert.is(stateOf(rig.repo).branch.base, main);
      assert.is(
        await git(integrationDir(rig.repo), 'rev-parse', 'HEAD'),
        userTip,
        'the adopted branch keeps its commits',
      );
    } finally {
      rig.cleanup();
    }
  });

test('every step twice in a row (validate … complete, origin): the second is a no-op; complete after a landing cleans up and writes report.md', async () => {
  const rig = await makeRig({
    origin: true,
    top: 'quality-gates:\n  post-merge: ["test -f item-1.txt -a -f item-2.txt"]',
  });
  const wave = ['--wave', '1'];
  const report = path.join(rig.repo.stateDir, 'report.md');
  try {
    for (const name of ['validate', 'prepare', 'branch', 'fetch']) await stepTwice(rig, name);
    await stepTwice(rig, 'worktrees', wave);
    const exits = [1, 2].map((i) => path.join(rig.repo.stateDir, 'items', String(i), 'item-1.exit'));
    await stepTwice(rig, 'spawn', wave, {
      settle: () => waitFor('both agents to end', () => exits.every((f) => existsSync(f))),
    });
    for (const name of ['wait', 'merge', 'relay', 'gates'])
      await stepTwice(rig, name, ['wait', 'merge', 'relay'].includes(name) ? wave : []);
    await stepTwice(rig, 'land');

    // Landed, complete not run: main has the milestone (and origin too); the worktrees and branches are still there.
    const main = await git(rig.repo.dir, 'rev-parse', 'main');
    assert.is(await git(rig.repo.origin as string, 'rev-parse', 'main'), main);
    await git(rig.repo.dir, 'merge-base', '--is-ancestor', BRANCH, 'main');
    assert.ok(existsSync(itemDir(rig.repo, 1)) && existsSync(integrationDir(rig.repo)));
    assert.not.ok(existsSync(report));
    assert.is(stateOf(rig.repo).complete, null);

    await stepTwice(rig, 'complete', [], { files: [report] });
    const state = stateOf(rig.repo);
    assert.is(state.complete.report, report);
    const text = readFileSync(report, 'utf8');
    assert.match(text, '#1');
    assert.match(text, '#2');
    const worktrees = (await git(rig.repo.dir, 'worktree', 'list', '--porcelain'))
      .split('\n')
      .filter((l) => l.startsWith('worktree '));
    assert.equal(worktrees, [`worktree ${rig.repo.dir}`]);
    assert.not.ok(await refExists(rig.repo.dir, `refs/heads/${BRANCH}`));
    assert.is(await git(rig.repo.dir, 'branch', '--list', 'work/*'), '');
    assert.is(await git(rig.repo.dir, 'rev-parse', 'main'), main);
    assert.is(await git(rig.repo.dir, 'status', '--porcelain', '--untracked-files=all'), '');
    assert.equal(rig.starts(), ['1', '2']);

    // And `run` after all that: nothing to do.
    const before = stateText(rig.repo);
    const again = await run(rig.repo, [], rig.env);
    assert.is(again.code, 0, show(again));
    assert.is(stateText(rig.repo), before);
  } finally {
    rig.cleanup();
  }
});

test.run();
