/**
 * A repository without `main` (one on `master`, say): `run` stops before changing anything, with one sentence that
 * names the branches it has, and exit 2.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, makeRepo, runCli, type TestRepo } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';

const readExclude = (dir: string) => {
  try {
    return readFileSync(path.join(dir, '.git', 'info', 'exclude'), 'utf8');
  } catch {
    return null;
  }
};

/** What `run` must leave as it was: refs, worktrees, the checkout's files and the exclude lines. */
async function snapshot(dir: string) {
  return {
    refs: await git(dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    worktrees: await git(dir, 'worktree', 'list', '--porcelain'),
    status: await git(dir, 'status', '--porcelain'),
    exclude: readExclude(dir),
  };
}

/** A repository with a one-item milestone 7 (a committing agent). */
function oneItemRepo(title: string): Promise<TestRepo> {
  const items = [{ issue: 1, title: 'One' }];
  const plan = planYaml({ title, waves: [{ items }], defaults: { agent: 'command', command: COMMITTING_AGENT } });
  return makeRepo({ plan, items });
}

test('no branch main: exit 2, one sentence naming the branches there are, the repository as it was', async () => {
  const repo = await oneItemRepo('No main');
  try {
    await git(repo.dir, 'branch', '-m', 'main', 'master');
    const before = await snapshot(repo.dir);
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push']);
    assert.is(r.code, 2, r.stderr);
    assert.is(
      r.stderr.trim().split('\n').pop(),
      `${repo.dir} has no branch main, the branch work-milestone builds milestones on and lands them on (its branches: master)`,
    );
    assert.equal(await snapshot(repo.dir), before, 'no ref, worktree, file or exclude line of the repository changed');
  } finally {
    repo.cleanup();
  }
});

test('main gone after the milestone started: exit 3 saying to restore it, from the run and from the branch step', async () => {
  const repo = await oneItemRepo('Gone main');
  try {
    for (const step of ['validate', 'prepare', 'branch']) {
      const done = await runCli('step', [step, '7', '--repo', repo.dir, '--yes']);
      assert.is(done.code, 0, done.stderr);
    }
    await git(repo.dir, 'branch', '-m', 'main', 'master');
    const gone = `${repo.dir} has no branch main any more; restore it (git reflog shows where it was), then run again`;
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push']);
    assert.is(r.code, 3, r.stderr);
    assert.is(r.stderr.trim().split('\n').pop(), gone);
    // The branch step says the same when it runs again (its worktree gone too).
    await git(repo.dir, 'worktree', 'remove', '--force', path.join(repo.dir, 'worktrees', 'milestone-7'));
    const again = await runCli('step', ['branch', '7', '--repo', repo.dir, '--yes']);
    assert.is(again.code, 3, again.stderr);
    assert.is(again.stderr.trim().split('\n').pop(), gone);
  } finally {
    repo.cleanup();
  }
});

test.run();
