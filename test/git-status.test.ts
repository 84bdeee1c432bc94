/**
 * `git status` read as a stream (tasks/lib/git-status.ts): renames, odd paths and the branch read as before; a
 * worktree with more untracked files than LIMITS.statusEntries keeps that many paths and counts them all.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LIMITS } from '../tasks/lib/bounded-text.ts';
import { dirtyPaths, worktreeStatus } from '../tasks/lib/git-status.ts';
import { emptyRepo, git } from './support/fixture.ts';

const repoDir = () => emptyRepo('wm-status-');

test('renames, a path with a newline and spaces, modified, untracked; the branch and HEAD', async () => {
  const dir = await repoDir();
  try {
    writeFileSync(path.join(dir, 'a.txt'), 'a\n');
    writeFileSync(path.join(dir, 'b.txt'), 'b\n');
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '-m', 'base');
    const head = await git(dir, 'rev-parse', 'HEAD');
    renameSync(path.join(dir, 'a.txt'), path.join(dir, 'renamed.txt'));
    await git(dir, 'add', '-A');
    writeFileSync(path.join(dir, 'b.txt'), 'changed\n');
    writeFileSync(path.join(dir, 'two\nlines and spaces.txt'), 'x\n');
    const status = await worktreeStatus(dir);
    assert.is(status.branch, 'main');
    assert.is(status.head, head);
    assert.equal([...status.dirty].sort(), ['b.txt', 'renamed.txt', 'two\nlines and spaces.txt']);
    assert.is(status.dirty.total, 3);
    const dirty = await dirtyPaths(dir);
    assert.equal([...dirty].sort(), ['b.txt', 'renamed.txt', 'two\nlines and spaces.txt']);
    assert.equal([...(await dirtyPaths(dir, { untracked: false }))].sort(), ['b.txt', 'renamed.txt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('more untracked files than the limit: the first LIMITS.statusEntries kept, all counted', async () => {
  const dir = await repoDir();
  try {
    const count = LIMITS.statusEntries + 2345;
    for (let d = 0; d * 1000 < count; d++) {
      const sub = path.join(dir, 'node_modules', `pkg-${d}`);
      mkdirSync(sub, { recursive: true });
      for (let f = d * 1000; f < Math.min(count, (d + 1) * 1000); f++) writeFileSync(path.join(sub, `f${f}.js`), '');
    }
    const status = await worktreeStatus(dir);
    assert.is(status.dirty.length, LIMITS.statusEntries);
    assert.is(status.dirty.total, count);
    assert.is(status.head, null, 'an unborn branch');
    const dirty = await dirtyPaths(dir);
    assert.is(dirty.length, LIMITS.statusEntries);
    assert.is(dirty.total, count);
    assert.ok(dirty.every((p) => p.startsWith('node_modules/pkg-')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
