/**
 * Files an agent can replace (tasks/lib/regular-file.ts): a named pipe where the runner expects a file fails at once
 * instead of blocking the runner; a worktree's HEAD file, state.json and its journal are read that way.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureExcluded } from '../tasks/lib/exclude.ts';
import { headFileBranch } from '../tasks/lib/git-files.ts';
import { hashRegularFileSync, readRegularFile, readRegularFileSync } from '../tasks/lib/regular-file.ts';
import { readState, UnreadableStateError } from '../tasks/lib/state.ts';
import { readJournal } from '../tasks/lib/state-journal.ts';
import { errorCodeOf as codeOf, tempDir } from './support/fixture.ts';

test('a hash reads the whole file, however its size compares with the read buffer; a pipe is ENOTREG', () => {
  const dir = tempDir('wm-regular-');
  try {
    for (const size of [0, 1, 4097, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 7]) {
      const file = path.join(dir, `f${size}`);
      const data = Buffer.alloc(size, 'ab\n');
      writeFileSync(file, data, { mode: 0o755 });
      const got = hashRegularFileSync(file);
      assert.is(got.sha256, createHash('sha256').update(data).digest('hex'), `${size} bytes`);
      assert.ok(got.mode & 0o100, "the mode is the file's");
    }
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    assert.is(
      codeOf(() => hashRegularFileSync(path.join(dir, 'pipe'))),
      'ENOTREG',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a regular file is read whole; a pipe, a folder or a device fails at once (ENOTREG); a missing one is ENOENT', async () => {
  const dir = tempDir('wm-regular-');
  try {
    writeFileSync(path.join(dir, 'file'), 'text ✓\n');
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    assert.is(readRegularFileSync(path.join(dir, 'file')), 'text ✓\n');
    assert.is(await readRegularFile(path.join(dir, 'file')), 'text ✓\n');
    assert.is(
      codeOf(() => readRegularFileSync(path.join(dir, 'pipe'))),
      'ENOTREG',
    );
    assert.is(
      codeOf(() => readRegularFileSync(dir)),
      'ENOTREG',
    );
    assert.is(
      codeOf(() => readRegularFileSync('/dev/zero')),
      'ENOTREG',
    );
    assert.is(
      codeOf(() => readRegularFileSync(path.join(dir, 'missing'))),
      'ENOENT',
    );
    const asyncCode = await readRegularFile(path.join(dir, 'pipe')).catch((e: NodeJS.ErrnoException) => e.code);
    assert.is(asyncCode, 'ENOTREG');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a pipe as a worktree's HEAD, as state.json, as the state journal: answers or a clear error, never a wait", async () => {
  const dir = tempDir('wm-regular-');
  try {
    // A linked worktree whose git dir holds a pipe named HEAD: the file answer is "unknown" (git is asked instead).
    const admin = path.join(dir, 'admin');
    const worktree = path.join(dir, 'wt');
    mkdirSync(admin);
    mkdirSync(worktree);
    writeFileSync(path.join(worktree, '.git'), `gitdir: ${admin}\n`);
    execFileSync('mkfifo', [path.join(admin, 'HEAD')]);
    assert.is(headFileBranch(worktree), null);
    const state = path.join(dir, 'state');
    mkdirSync(state);
    execFileSync('mkfifo', [path.join(state, 'state.json')]);
    const error = await readState(state, '7').catch((e: unknown) => e);
    assert.instance(error, UnreadableStateError);
    assert.match((error as Error).message, /state\.json cannot be read \(not a regular file\)/);
    rmSync(path.join(state, 'state.json'));
    execFileSync('mkfifo', [path.join(state, 'state.journal')]);
    const journal = await readJournal(state).catch((e: NodeJS.ErrnoException) => e.code);
    assert.is(journal, 'ENOTREG');
    // Reading the state reads the journal first: the same one sentence, naming the journal.
    const viaState = await readState(state, '7').catch((e: unknown) => e);
    assert.instance(viaState, UnreadableStateError);
    assert.match((viaState as Error).message, /state\.journal cannot be read \(not a regular file\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ensureExcluded adds its lines to a file, and leaves a pipe put in its place alone (writing would block)', async () => {
  const dir = tempDir('wm-regular-');
  try {
    await ensureExcluded(dir, ['/worktrees/']);
    assert.is(readFileSync(path.join(dir, 'info', 'exclude'), 'utf8'), '# work-milestone\n/worktrees/\n');
    rmSync(path.join(dir, 'info', 'exclude'));
    execFileSync('mkfifo', [path.join(dir, 'info', 'exclude')]);
    await ensureExcluded(dir, ['/worktrees/']);
    assert.ok(lstatSync(path.join(dir, 'info', 'exclude')).isFIFO());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
