/**
 * What a conflict agent left at a conflicted path (tasks/merging/merge-classify.ts `leftAtConflict`): markers found
 * wherever they are in a file read in chunks, a line that only starts like a marker is not one, links are not
 * followed, a pipe or a folder is "not a file", a deleted file is fine.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leftAtConflict } from '../tasks/merging/merge-classify.ts';
import { tempDir } from './support/fixture.ts';

test('markers in a file of many chunks, across a chunk boundary; long lines that start like a marker are not one', async () => {
  const dir = tempDir('wm-leftover-');
  try {
    const file = path.join(dir, 'big.txt');
    // 1 MiB chunks: the marker line starts 3 bytes before the first boundary and ends after it.
    const before = 'x'.repeat(1024 * 1024 - 4) + '\n';
    writeFileSync(file, `${before}>>>>>>> theirs\n${'y'.repeat(3 * 1024 * 1024)}\nend\n`);
    assert.is(await leftAtConflict(file), 'markers');
    writeFileSync(file, `${before}=======\n`);
    assert.is(await leftAtConflict(file), 'markers');
    // A line of 3 MiB that starts with seven '=': not a separator; nor `<<<<<<<<` (eight).
    writeFileSync(file, `a\n=======${'='.repeat(3 * 1024 * 1024)}\n<<<<<<<<\n${before}tail`);
    assert.is(await leftAtConflict(file), null);
    writeFileSync(file, `${'é'.repeat(700_000)}\n<<<<<<<`);
    assert.is(await leftAtConflict(file), 'markers', 'a last line without a newline');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a link is not followed, a deleted file is fine, a pipe and a folder are not files', async () => {
  const dir = tempDir('wm-leftover-');
  try {
    writeFileSync(path.join(dir, 'marked.txt'), '<<<<<<< ours\n');
    symlinkSync(path.join(dir, 'marked.txt'), path.join(dir, 'link'));
    symlinkSync('/dev/zero', path.join(dir, 'zero'));
    assert.is(await leftAtConflict(path.join(dir, 'link')), null);
    assert.is(await leftAtConflict(path.join(dir, 'zero')), null);
    assert.is(await leftAtConflict(path.join(dir, 'gone.txt')), null);
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    assert.is(await leftAtConflict(path.join(dir, 'pipe')), 'not a file');
    mkdirSync(path.join(dir, 'folder'));
    assert.is(await leftAtConflict(path.join(dir, 'folder')), 'not a file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
