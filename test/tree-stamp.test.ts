/** `stampTree`: any change to a tree changes its stamp, a mtime set back too; skipped subtrees do not. */
import { mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stampTree } from '../tasks/lib/tree-stamp.ts';
import { tempDir } from './support/fixture.ts';

const tree = () => {
  const dir = tempDir('wm-stamp-');
  mkdirSync(path.join(dir, 'pkg', '.cache'), { recursive: true });
  writeFileSync(path.join(dir, 'pkg', 'index.js'), 'one\n');
  return dir;
};
const skip = (rel: string) => rel === 'pkg/.cache';

test('no folder: null', () => {
  assert.is(stampTree(path.join(tempDir('wm-stamp-'), 'none')), null);
});

test('the same tree stamps the same; an edit of the same size with its mtime set back does not', () => {
  const dir = tree();
  try {
    const before = stampTree(dir, { skip });
    assert.ok(before);
    assert.is(before.entries, 3, 'root, pkg, index.js');
    assert.equal(stampTree(dir, { skip }), before);
    const file = path.join(dir, 'pkg', 'index.js');
    const { atime, mtime } = statSync(file);
    writeFileSync(file, 'two\n');
    utimesSync(file, atime, mtime);
    const after = stampTree(dir, { skip, since: Date.now() - 60_000 });
    assert.is.not(after?.digest, before.digest);
    assert.ok(
      after?.changed.some((c) => c.path === 'pkg/index.js'),
      JSON.stringify(after?.changed),
    );
    assert.not.ok(
      after?.changed.some((c) => c.path === 'pkg'),
      'folders are not named',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new or removed file changes the stamp; one in a skipped subtree does not', () => {
  const dir = tree();
  try {
    const before = stampTree(dir, { skip })?.digest;
    writeFileSync(path.join(dir, 'pkg', '.cache', 'x'), 'x\n');
    assert.is(stampTree(dir, { skip })?.digest, before, 'the cache is skipped, and its folder times are not stamped');
    writeFileSync(path.join(dir, 'pkg', 'new.js'), '\n');
    const added = stampTree(dir, { skip })?.digest;
    assert.is.not(added, before);
    rmSync(path.join(dir, 'pkg', 'new.js'));
    rmSync(path.join(dir, 'pkg', 'index.js'));
    assert.is.not(stampTree(dir, { skip })?.digest, before, 'removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
