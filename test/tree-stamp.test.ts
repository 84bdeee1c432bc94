/** `stampTree`: any change to a tree changes its stamp, a mtime set back too; skipped subtrees do not. */
import { linkSync, mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
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

test('a file with more than one link: its ctime is left out (a store shared by projects links it anywhere)', () => {
  const dir = tree();
  try {
    const file = path.join(dir, 'pkg', 'index.js');
    linkSync(file, path.join(dir, 'store-link'));
    const skipStore = (rel: string) => skip(rel) || rel === 'store-link';
    const before = stampTree(dir, { skip: skipStore })?.digest;
    // Another link made elsewhere changes the file's ctime, not the file.
    linkSync(file, path.join(dir, 'another-link'));
    rmSync(path.join(dir, 'another-link'));
    assert.is(stampTree(dir, { skip: skipStore })?.digest, before);
    writeFileSync(file, 'three\n');
    assert.is.not(stampTree(dir, { skip: skipStore })?.digest, before, 'an edit still shows (its mtime)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an entry that cannot be looked at (a folder replaced by a file meanwhile) is stamped, not thrown', () => {
  const dir = tree();
  try {
    const first = stampTree(dir, {
      skip: (rel) => {
        // Between the folder's listing and the look at its entries: pkg becomes a file.
        if (rel === 'pkg/.cache') {
          rmSync(path.join(dir, 'pkg'), { recursive: true, force: true });
          writeFileSync(path.join(dir, 'pkg'), 'now a file\n');
        }
        return false;
      },
    });
    assert.ok(first, 'stamped');
    assert.ok(first.entries >= 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
