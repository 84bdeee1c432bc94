/**
 * The runner's own files where an agent can reach them (tasks/lib/own-file.ts): a named pipe put where one goes,
 * read by nobody or held open by a leftover process, is replaced by the file instead of making the runner's open wait
 * for ever; a folder there is one clear error. The readers of regular files refuse a pipe at once.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendOwnFileSync, appendOwnFileSynced, openOwnFileSync, writeOwnFile } from '../tasks/lib/own-file.ts';
import { readRegularFileHeadSync } from '../tasks/lib/regular-file.ts';
import { errorCodeOf as codeOf, tempDir } from './support/fixture.ts';

const mkfifo = (file: string) => execFileSync('mkfifo', [file]);

test('appends and writes go to a regular file; a pipe nobody reads is replaced by one', async () => {
  const dir = tempDir('wm-own-');
  try {
    const log = path.join(dir, 'events.jsonl');
    appendOwnFileSync(log, 'one\n');
    appendOwnFileSync(log, 'two\n');
    assert.is(readFileSync(log, 'utf8'), 'one\ntwo\n');
    await appendOwnFileSynced(log, 'three\n');
    assert.is(readFileSync(log, 'utf8'), 'one\ntwo\nthree\n');
    await writeOwnFile(log, 'whole\n');
    assert.is(readFileSync(log, 'utf8'), 'whole\n', 'a write empties the file first');

    for (const write of [
      (f: string) => appendOwnFileSync(f, 'line\n'),
      (f: string) => appendOwnFileSynced(f, 'line\n'),
      (f: string) => writeOwnFile(f, 'line\n'),
    ]) {
      rmSync(log);
      mkfifo(log);
      await write(log);
      assert.ok(lstatSync(log).isFile(), 'the pipe was replaced by a file');
      assert.is(readFileSync(log, 'utf8'), 'line\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pipe a leftover process holds open is replaced too; a folder is ENOTREG and stays', () => {
  const dir = tempDir('wm-own-');
  try {
    const file = path.join(dir, 'state.journal');
    mkfifo(file);
    // The other end, held open: the runner's open for writing would succeed and write into it.
    const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      appendOwnFileSync(file, 'entry\n');
      assert.ok(lstatSync(file).isFile());
      assert.is(readFileSync(file, 'utf8'), 'entry\n');
    } finally {
      closeSync(reader);
    }
    const folder = path.join(dir, 'report.md');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'keep'), 'x');
    assert.is(
      codeOf(() => openOwnFileSync(folder, 'truncate')),
      'ENOTREG',
    );
    assert.ok(lstatSync(folder).isDirectory(), 'a folder is never removed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the head of a regular file is read; a pipe (an agent's pid file replaced) is ENOTREG at once", () => {
  const dir = tempDir('wm-own-');
  try {
    const pidFile = path.join(dir, 'item-1.pid');
    writeFileSync(pidFile, '12345\nmore text\n');
    assert.is(readRegularFileHeadSync(pidFile, 5), '12345');
    rmSync(pidFile);
    mkfifo(pidFile);
    assert.is(
      codeOf(() => readRegularFileHeadSync(pidFile, 64)),
      'ENOTREG',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
