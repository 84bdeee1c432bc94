/**
 * Shared reads of a checkout's status (docs/performance.md, "Git calls"): an agent judged after its processes ended
 * may take a status that started after that moment, never an earlier one, so no write it made can be missed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writesOutside } from '../tasks/guards/agent-guards.ts';
import { freshRead, readClock } from '../tasks/lib/fresh-read.ts';
import { git, tempDir } from './support/fixture.ts';

/** Runs `fn` with the runner's git calls logged to a file; returns how many `status` calls it made. */
async function statusCalls(fn: () => Promise<void>): Promise<number> {
  const log = path.join(tempDir('wm-fresh-log-'), 'calls');
  writeFileSync(log, '');
  const before = process.env.WM_GIT_CALLER_LOG;
  process.env.WM_GIT_CALLER_LOG = log;
  try {
    await fn();
  } finally {
    if (before === undefined) delete process.env.WM_GIT_CALLER_LOG;
    else process.env.WM_GIT_CALLER_LOG = before;
  }
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => /\bstatus\b/.test(l)).length;
}

test('a status that started after an agent ended is shared; one that started before is never taken', async () => {
  const dir = tempDir('wm-fresh-');
  await git(dir, 'init', '-q', '-b', 'main');
  const start = Date.now() - 60_000;
  const early = readClock();
  let first: Array<{ path: string }> = [];
  const calls1 = await statusCalls(async () => {
    first = await writesOutside(dir, start, [], early);
  });
  assert.is(calls1, 1);
  assert.equal(first, []);
  // An agent writes into the checkout after that read started, then ends: its judge must read again.
  writeFileSync(path.join(dir, 'stray.txt'), 'x\n');
  const ended = readClock();
  let second: Array<{ path: string }> = [];
  let third: Array<{ path: string }> = [];
  const calls2 = await statusCalls(async () => {
    second = await writesOutside(dir, start, [], ended);
    // Another agent that ended at the same moment takes that read (finished by now): no further git call.
    third = await writesOutside(dir, start, [], ended);
  });
  assert.is(calls2, 1, 'one read for both judges');
  assert.equal(
    second.map((w) => w.path),
    ['stray.txt'],
  );
  assert.equal(
    third.map((w) => w.path),
    ['stray.txt'],
  );
});

test('without a moment, every caller gets a read that started after it asked', async () => {
  let reads = 0;
  const read = async () => ++reads;
  const key = `count\0${tempDir('wm-fresh-key-')}`;
  assert.is(await freshRead(key, read), 1);
  assert.is(await freshRead(key, read), 2, 'a finished read is not reused');
  // Callers who ask while a read runs share the next one.
  const [a, b, c] = await Promise.all([freshRead(key, read), freshRead(key, read), freshRead(key, read)]);
  assert.is(a, 3);
  assert.is(b, 4);
  assert.is(c, 4);
  const since = readClock();
  assert.is(await freshRead(key, read, since), 5, 'the last read started before `since`');
  assert.is(await freshRead(key, read, since), 5, 'shared: it started after `since`');
});

test.run();
