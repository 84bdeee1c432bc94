/**
 * Every step runnable alone and converging from the half-done states a crash leaves (docs/steps.md):
 * worktrees, wait, merge, land and complete. Each state is made by hand, with git and by editing state.json; then the
 * one step runs (in this process: `main()` as the script calls it, no CLI start), then `run`; agents count their
 * starts in a file outside the repository.
 * (prepare, branch and every step twice: test/converge-2.test.ts.)
 *
 * The worktrees, merge and wait cases run under both schedules (the plan's `defaults.schedule`): the steps that make
 * the half-done state are nodes of the waves graph either way, and the final `run` resumes through the waves or the
 * dag graph. land and complete run under `waves` only: the two graphs end with the same gates → land → complete.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess } from './support/cli.ts';
import { git, gitOk, readEvents } from './support/fixture.ts';
import { show } from './support/wave-rig.ts';
import {
  assertLanded,
  BRANCH,
  deadPid,
  editState,
  integrationDir,
  itemBranch,
  itemDir,
  itemMerges,
  makeRig,
  runIn as run,
  stateOf,
  stepIn as step,
  stepsOk,
  TO_WORKTREES,
} from './support/converge-rig.ts';

const SCHEDULES = ['waves', 'dag'] as const;
const LOCK = path.join('.claude', 'kage-bunshin.lock');
const BRANCH_REF = `refs/heads/${BRANCH}`;

for (const schedule of SCHEDULES)
  test(`${schedule}: worktrees: a worktree without its lock file gets the lock and is reused; a branch without its worktree gets it back on the same branch, commits kept`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, TO_WORKTREES);
      const before = stateOf(rig.repo).items;
      // #1: the lock file is gone. A marker in the worktree's admin folder tells whether it was removed and added
      // again.
      const admin1 = path.resolve(itemDir(rig.repo, 1), await git(itemDir(rig.repo, 1), 'rev-parse', '--git-dir'));
      writeFileSync(path.join(admin1, 'wm-test-marker'), 'kept\n');
      rmSync(path.join(itemDir(rig.repo, 1), LOCK));
      // #2: work committed on the branch by an earlier attempt, then the worktree folder removed.
      writeFileSync(path.join(itemDir(rig.repo, 2), 'early-2.txt'), 'early\n');
      await git(itemDir(rig.repo, 2), 'add', 'early-2.txt');
      await git(itemDir(rig.repo, 2), 'commit', '-qm', 'early work on 2');
      const early = await git(itemDir(rig.repo, 2), 'rev-parse', 'HEAD');
      await git(rig.repo.dir, 'worktree', 'remove', '--force', itemDir(rig.repo, 2));
      assert.not.ok(existsSync(itemDir(rig.repo, 2)));

      const r = await step(rig.repo, 'worktrees', ['--wave', '1'], rig.env);
      assert.is(r.code, 0, show(r));
      for (const issue of [1, 2]) {
        const dir = itemDir(rig.repo, issue);
        assert.is(await git(dir, 'symbolic-ref', '--short', 'HEAD'), itemBranch(issue));
        const lock = JSON.parse(readFileSync(path.join(dir, LOCK), 'utf8'));
        assert.is(lock.item, issue);
        assert.ok(lock.session_id && lock.parent_pid && lock.spawned_at && lock.model, JSON.stringify(lock));
        assert.is(await git(dir, 'status', '--porcelain', '--untracked-files=all'), '', 'the lock is excluded');
        // The base recorded for the item is kept (not moved to the early commit).
        assert.is(stateOf(rig.repo).items[String(issue)].base, before[String(issue)].base);
      }
      assert.is(
        readFileSync(path.join(admin1, 'wm-test-marker'), 'utf8'),
        'kept\n',
        '#1 worktree was added again instead of reused',
      );
      assert.is(await git(itemDir(rig.repo, 2), 'rev-parse', 'HEAD'), early, '#2 lost the commit of its branch');
      assert.is(await git(rig.repo.dir, 'rev-parse', itemBranch(2)), early);
      const worktrees = (await git(rig.repo.dir, 'worktree', 'list', '--porcelain'))
        .split('\n')
        .filter((l) => l.startsWith('worktree '));
      assert.is(worktrees.length, 4, worktrees.join('\n'));
      assert.equal(rig.starts(), [], 'worktrees started an agent');

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.equal(rig.starts(), ['1', '2']);
      assert.is(await git(rig.repo.dir, 'show', 'main:early-2.txt'), 'early', "#2's earlier commit landed with it");
    } finally {
      rig.cleanup();
    }
  });

for (const schedule of SCHEDULES)
  test(`${schedule}: merge: a merge left in progress in the integration worktree (MERGE_HEAD) → undone, every item merged exactly once`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, [...TO_WORKTREES, ['wait', '--wave', '1']]);
      const integration = integrationDir(rig.repo);
      const headBefore = await git(integration, 'rev-parse', 'HEAD');
      await git(integration, 'merge', '-q', '--no-commit', '--no-ff', itemBranch(1));
      assert.ok(await gitOk(integration, 'rev-parse', '-q', '--verify', 'MERGE_HEAD'), 'the merge is in progress');

      const r = await step(rig.repo, 'merge', ['--wave', '1'], rig.env);
      assert.is(r.code, 0, show(r));
      assert.not.ok(await gitOk(integration, 'rev-parse', '-q', '--verify', 'MERGE_HEAD'), 'MERGE_HEAD left');
      assert.is(await git(integration, 'status', '--porcelain', '--untracked-files=all'), '');
      const merges = await itemMerges(rig.repo, BRANCH_REF);
      assert.equal(merges.map((m) => m.subject).sort(), ['Merge #1: One', 'Merge #2: Two']);
      const state = stateOf(rig.repo);
      for (const m of merges) {
        assert.is(m.parents, 2, `${m.subject} has ${m.parents} parents`);
        const issue = m.subject[7] as string;
        assert.is(state.items[issue].merge.sha, m.sha);
        assert.is(
          await git(rig.repo.dir, 'rev-parse', `${m.sha}^2`),
          await git(rig.repo.dir, 'rev-parse', itemBranch(Number(issue))),
        );
      }
      // The first merge sits on the integration HEAD of before: nothing of the half-done merge was kept.
      assert.is(await git(rig.repo.dir, 'rev-list', '--count', `${headBefore}..${BRANCH_REF}`), '4');

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.equal(rig.starts(), ['1', '2']);
    } finally {
      rig.cleanup();
    }
  });

for (const schedule of SCHEDULES)
  test(`${schedule}: merge: merges committed but not recorded in state → recorded from git, nothing merged twice`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, [...TO_WORKTREES, ['wait', '--wave', '1'], ['merge', '--wave', '1']]);
      const head = await git(rig.repo.dir, 'rev-parse', BRANCH_REF);
      const recorded = stateOf(rig.repo).items;
      const shas = { 1: recorded['1'].merge.sha as string, 2: recorded['2'].merge.sha as string };
      editState(rig.repo, (s) => {
        s.items['1'].merge = null;
        s.items['2'].merge = null;
      });
      const eventsBefore = readEvents(rig.repo).length;

      const r = await step(rig.repo, 'merge', ['--wave', '1'], rig.env);
      assert.is(r.code, 0, show(r));
      assert.is(await git(rig.repo.dir, 'rev-parse', BRANCH_REF), head, 'integration moved: merged again');
      const items = stateOf(rig.repo).items;
      assert.is(items['1'].merge.sha, shas[1]);
      assert.is(items['2'].merge.sha, shas[2]);
      const found = readEvents(rig.repo)
        .slice(eventsBefore)
        .filter((e) => e.type === 'merge');
      assert.equal(found.map((e) => [e.issue, e.sha, e.note]).sort(), [
        [1, shas[1], 'found merged after a restart'],
        [2, shas[2], 'found merged after a restart'],
      ]);
      assert.equal((await itemMerges(rig.repo, BRANCH_REF)).map((m) => m.subject).sort(), [
        'Merge #1: One',
        'Merge #2: Two',
      ]);

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.equal(rig.starts(), ['1', '2']);
    } finally {
      rig.cleanup();
    }
  });

for (const schedule of SCHEDULES)
  test(`${schedule}: wait: a result on disk but not in state (dead pid) is judged from its files, no agent started; an attempt recorded without a process does not count`, async () => {
    const rig = await makeRig({ schedule });
    try {
      await stepsOk(rig, TO_WORKTREES);
      const items1 = path.join(rig.repo.stateDir, 'items', '1');
      const items2 = path.join(rig.repo.stateDir, 'items', '2');
      // #1: its agent committed, printed its report, and its wrapper wrote the exit code (`<code> <pid>`); the runner
      // died
      // before reading them.
      writeFileSync(path.join(itemDir(rig.repo, 1), 'item-1.txt'), '1\n');
      await git(itemDir(rig.repo, 1), 'add', 'item-1.txt');
      await git(itemDir(rig.repo, 1), 'commit', '-qm', 'item 1');
      const commit1 = await git(itemDir(rig.repo, 1), 'rev-parse', 'HEAD');
      const pid = deadPid();
      mkdirSync(items1, { recursive: true });
      writeFileSync(path.join(items1, 'prompt-1.md'), 'the prompt\n');
      writeFileSync(path.join(items1, 'item-1.pid'), `${pid}\n`);
      writeFileSync(
        path.join(items1, 'item-1.stdout'),
        `STATUS: COMPLETE\nBRANCH: ${itemBranch(1)}\nFILES_CHANGED:\nitem-1.txt\nNOTES: wrote item-1.txt\n`,
      );
      writeFileSync(path.join(items1, 'item-1.stderr'), '');
      writeFileSync(path.join(items1, 'item-1.exit'), `0 ${pid}\n`);
      // #2: the attempt was recorded, then the runner died before its process started (no pid file, no process).
      mkdirSync(items2, { recursive: true });
      writeFileSync(path.join(items2, 'prompt-1.md'), 'a prompt never used\n');
      const startedAt = new Date(Date.now() - 5000).toISOString();
      editState(rig.repo, (s) => {
        Object.assign(s.items['1'], {
          status: 'in-progress',
          attempts: 1,
          process: { pid, startTime: '1', startedAt, attempt: 1, timeoutMs: 30_000 },
        });
        Object.assign(s.items['2'], { status: 'in-progress', attempts: 1, process: null });
      });

      const r = await step(rig.repo, 'wait', ['--wave', '1'], rig.env);
      assert.is(r.code, 0, show(r));
      assert.equal(rig.starts(), ['2'], 'only #2 was started, once');
      const spawned = readEvents(rig.repo).filter((e) => e.type === 'agent-spawned');
      assert.equal(
        spawned.map((e) => [e.issue, e.attempt]),
        [[2, 1]],
      );
      const items = stateOf(rig.repo).items;
      assert.is(items['1'].status, 'complete', JSON.stringify(items['1']));
      assert.is(items['1'].attempts, 1);
      assert.is(items['1'].result.report.status, 'COMPLETE');
      assert.equal(items['1'].result.commits, [{ sha: commit1, subject: 'item 1' }]);
      assert.equal(items['1'].result.flags, []);
      assert.ok(existsSync(path.join(items1, 'result-1.json')));
      // #2's unstarted attempt was forgotten: its real start is attempt 1 again, with a fresh prompt.
      assert.is(items['2'].status, 'complete', JSON.stringify(items['2']));
      assert.is(items['2'].attempts, 1);
      assert.match(readFileSync(path.join(items2, 'prompt-1.md'), 'utf8'), 'You are working on Issue #2: Two');
      assert.not.ok(existsSync(path.join(items2, 'prompt-2.md')));

      const landed = await run(rig.repo, [], rig.env);
      await assertLanded(rig, landed);
      assert.equal(rig.starts(), ['2']);
    } finally {
      rig.cleanup();
    }
  });

test('land: main merged locally but not pushed (--no-push), then run without it → pushed; nothing else redone', async () => {
  const rig = await makeRig({ origin: true });
  try {
    const originBefore = await git(rig.repo.origin as string, 'rev-parse', 'main');
    const local = await run(rig.repo, [], rig.env);
    await assertLanded(rig, local);
    const main = await git(rig.repo.dir, 'rev-parse', 'main');
    assert.is.not(main, originBefore);
    assert.is(await git(rig.repo.origin as string, 'rev-parse', 'main'), originBefore, '--no-push pushed');
    assert.is(stateOf(rig.repo).land.pushed, false);
    const eventsBefore = readEvents(rig.repo).length;

    const pushed = await runInProcess('run', ['7', '--repo', rig.repo.dir], { env: rig.env });
    assert.is(pushed.code, 0, show(pushed));
    assert.is(await git(rig.repo.origin as string, 'rev-parse', 'main'), main);
    assert.is(await git(rig.repo.dir, 'rev-parse', 'main'), main, 'main merged again');
    assert.is(stateOf(rig.repo).land.pushed, true);
    const events = readEvents(rig.repo).slice(eventsBefore);
    assert.equal(
      events.filter((e) => e.type === 'step-done').map((e) => e.node),
      ['land'],
    );
    assert.equal(
      events.filter((e) => e.type === 'land').map((e) => [e.phase, e.sha]),
      [['pushed', main]],
    );
    assert.equal(rig.starts(), ['1', '2']);
  } finally {
    rig.cleanup();
  }
});

test('complete cut short after its removals, before its record (no report.md, complete null) → run converges, nothing redone', async () => {
  const rig = await makeRig();
  try {
    await assertLanded(rig, await run(rig.repo, [], rig.env));
    const main = await git(rig.repo.dir, 'rev-parse', 'main');
    const report = path.join(rig.repo.stateDir, 'report.md');
    rmSync(report);
    editState(rig.repo, (s) => {
      s.complete = null;
    });

    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again);
    assert.ok(existsSync(report), 'report.md not written');
    assert.is(await git(rig.repo.dir, 'rev-parse', 'main'), main, 'main moved');
    assert.equal(rig.starts(), ['1', '2']);
  } finally {
    rig.cleanup();
  }
});

test.run();
