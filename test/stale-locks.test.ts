/**
 * Locks a killed git left (tasks/lib/stale-locks.ts): removed from a linked worktree (index, HEAD) and its branch's
 * ref when no git process works in the worktree, kept while one does.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StepFailedError } from '../tasks/lib/errors.ts';
import { git as runnerGit } from '../tasks/lib/git.ts';
import { gitProcessesIn } from '../tasks/lib/git-orphans.ts';
import { removeStaleLocks } from '../tasks/lib/stale-locks.ts';
import { emptyRepo, git } from './support/fixture.ts';
import { waitFor } from './support/wait.ts';
import { makeAgentRig } from './support/agent-rig.ts';
import { readEvents } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

test('kept while a git works in the worktree; removed, with one notice naming them, once none does', async () => {
  const dir = await emptyRepo('wm-locks-');
  try {
    await git(dir, 'commit', '-q', '--allow-empty', '-m', 'base');
    const wt = path.join(dir, 'wt');
    await git(dir, 'worktree', 'add', '-q', '-b', 'milestone/7-x', wt);
    const locks = [
      path.join(dir, '.git', 'worktrees', 'wt', 'index.lock'),
      path.join(dir, '.git', 'worktrees', 'wt', 'HEAD.lock'),
      path.join(dir, '.git', 'refs', 'heads', 'milestone', '7-x.lock'),
    ];
    for (const lock of locks) writeFileSync(lock, '');
    // A git that waits on its stdin, working in the worktree: it could be the one holding the locks.
    const busy = spawn('git', ['cat-file', '--batch'], { cwd: wt, stdio: ['pipe', 'ignore', 'ignore'] });
    await waitFor('the git process to be seen', () => gitProcessesIn(wt, new Set()).length > 0);
    const notices: string[] = [];
    removeStaleLocks(wt, path.join(dir, '.git'), 'milestone/7-x', (m) => notices.push(m));
    assert.equal(notices, []);
    assert.ok(
      locks.every((l) => existsSync(l)),
      'kept while git works there',
    );
    // What git says then, as the runner's error gives it: its message first, with the file's name.
    const refused = await runnerGit(wt, ['add', '-A']).catch((e: unknown) => e);
    assert.instance(refused, StepFailedError);
    assert.match((refused as Error).message, `failed in ${wt}: fatal: Unable to create '${locks[0]}': File exists.`);
    const ended = new Promise((resolve) => busy.once('exit', resolve));
    busy.stdin.end();
    await ended;
    await waitFor('the git process to be gone', () => gitProcessesIn(wt, new Set()).length === 0);
    removeStaleLocks(wt, path.join(dir, '.git'), 'milestone/7-x', (m) => notices.push(m));
    assert.is(notices.length, 1);
    assert.is(
      notices[0],
      `removed ${locks.join(', ')}: left by a git process that was killed (no git works there now)`,
    );
    assert.ok(
      locks.every((l) => !existsSync(l)),
      'removed',
    );
    assert.is(await git(wt, 'status', '--porcelain'), '', 'git works in the worktree again');
    removeStaleLocks(wt, path.join(dir, '.git'), 'milestone/7-x', (m) => notices.push(m));
    assert.is(notices.length, 1, 'nothing to say when there is no lock');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an item attempt that left index.lock in its worktree: the retry finds it removed, commits, and lands', async () => {
  const r = await makeAgentRig({
    title: 'Stale lock',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE:$WM_ATTEMPT" in
item:1:1) touch "$(git rev-parse --git-dir)/index.lock"; exit 1;;
item:1:2) echo alpha > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    defaults: { retries: 1 },
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha');
    assert.ok(
      readEvents(r.repo).some(
        (e) => e.type === 'notice' && /^#1: removed \S+index\.lock: left by a git/.test(e.message),
      ),
      'said so',
    );
  } finally {
    r.cleanup();
  }
});

test.run();
