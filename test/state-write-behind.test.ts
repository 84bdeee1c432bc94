/**
 * The runner's write-behind state store (`tasks/lib/state.ts`, docs/state.md "When state.json is written"): what a
 * crash must not lose is on disk when update() resolves, the rest at flush() or the tick; a killed runner loses only
 * the latter; snapshots handed out by current() never change afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openStateStore, readState } from '../tasks/lib/state.ts';
import { STATE_JOURNAL, stateTag } from '../tasks/lib/state-journal.ts';
import { emptyItem } from '../tasks/lib/state-types.ts';
import { updateItem } from '../tasks/lib/state-items.ts';
import { ROOT, tempDir } from './support/fixture.ts';
import { readStateFile } from './support/state-files.ts';

const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const dirs: string[] = [];
const moduleUrl = (file: string): string => pathToFileURL(path.join(ROOT, 'tasks', 'lib', file)).href;

function freshDir(): string {
  const dir = tempDir('wm-state-wb-');
  dirs.push(dir);
  return path.join(dir, 'milestone-7');
}

/** A tick no test waits for: what is on disk is what flush() or a durable update wrote. */
const NEVER_MS = 10 * 60_000;

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a deferred change is in memory at once and on disk (with its backup) only after flush()', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => {
    s.items['1'] = emptyItem(1, 1);
  });
  // A new item in its pending shape is not durable: the worktrees step finds it again.
  await store.update((s) => void updateItem(s, 1, { worktree: '/w/1', branch: 'work/7-1', base: 'abc' }));
  assert.is(store.current().items['1']?.worktree, '/w/1');
  assert.not.ok(existsSync(path.join(dir, 'state.json')), 'a deferred change was written at once');
  await store.flush();
  assert.is((await readState(dir, '7')).items['1']?.worktree, '/w/1');
  assert.ok(existsSync(path.join(dir, 'state.json.bak')));
});

test('durable changes are on disk when update() resolves: item attempts and process, refs, {durable: true}', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => void (s.items['1'] = emptyItem(1, 1)));
  await store.update((s) => void updateItem(s, 1, { attempts: 1, status: 'in-progress' }));
  assert.is((await readState(dir, '7')).items['1']?.attempts, 1);
  await store.update((s) => void updateItem(s, 1, { result: null, failure: 'deferred text' }));
  assert.is((await readState(dir, '7')).items['1']?.failure, null, 'a failure text alone was written at once');
  await store.update((s) => void (s.refs = { integration: 'abc', main: null, originMain: null, pending: null }));
  const disk = await readState(dir, '7');
  assert.is(disk.refs?.integration, 'abc');
  // A record goes to the journal alone: the deferred change of an item waits for the tick.
  assert.is(disk.items['1']?.failure, null);
  // {durable: true} writes the whole state, with everything deferred before it.
  await store.update((s) => void updateItem(s, 1, { base: 'def' }), { durable: true });
  assert.is((await readState(dir, '7')).items['1']?.base, 'def');
  assert.is((await readState(dir, '7')).items['1']?.failure, 'deferred text');
  await store.flush();
});

test('concurrent durable updates all land; snapshots from current() never change afterwards', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => void (s.items['1'] = { ...emptyItem(1, 1), attempts: 1 }));
  const before = store.current();
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.update((s) => {
        s.items[String(i + 2)] = { ...emptyItem(i + 2, 1), attempts: 1, status: 'in-progress' };
        updateItem(s, 1, (it) => ({ attempts: it.attempts + 1 }));
      }),
    ),
  );
  const disk = await readState(dir, '7');
  assert.is(Object.keys(disk.items).length, 21);
  assert.is(disk.items['1']?.attempts, 21);
  assert.is(before.items['1']?.attempts, 1, 'an earlier snapshot was changed in place');
  assert.is(Object.keys(before.items).length, 1);
  await store.flush();
});

const stateText = (dir: string): string => readFileSync(path.join(dir, 'state.json'), 'utf8');
const journalFile = (dir: string): string => path.join(dir, STATE_JOURNAL);

test('a durable item change is appended to the journal, not a rewrite of state.json; flush() folds it in', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => void (s.items['1'] = emptyItem(1, 1)));
  // The first durable change has no state.json to go on top of: it is written whole.
  await store.update((s) => void updateItem(s, 1, { attempts: 1, status: 'in-progress' }));
  const whole = stateText(dir);
  assert.not.ok(existsSync(journalFile(dir)));
  await store.update((s) => void updateItem(s, 1, { attempts: 2 }));
  await store.update((s) => void (s.items['2'] = { ...emptyItem(2, 1), attempts: 1, status: 'in-progress' }));
  assert.is(stateText(dir), whole, 'state.json was rewritten for an item change');
  const lines = readFileSync(journalFile(dir), 'utf8').trim().split('\n');
  assert.is(lines.length, 2);
  // The tag is the first 16 hex digits of the sha1 of state.json's text.
  assert.equal(JSON.parse(lines[0] ?? '').on, createHash('sha1').update(whole).digest('hex').slice(0, 16));
  // Readers (and the tests' own reader) see the state with the journal on top.
  const disk = await readState(dir, '7');
  assert.is(disk.items['1']?.attempts, 2);
  assert.is(disk.items['2']?.status, 'in-progress');
  assert.is(readStateFile({ stateDir: dir }).items['1'].attempts, 2);
  await store.flush();
  assert.not.ok(existsSync(journalFile(dir)), 'the journal outlived the whole write');
  assert.is(JSON.parse(stateText(dir)).items['1'].attempts, 2);
});

test('records go to the journal too; the journal is folded into state.json once it outgrows it', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => void (s.items['1'] = { ...emptyItem(1, 1), attempts: 1, status: 'in-progress' }));
  const whole = stateText(dir);
  await store.update((s) => void (s.refs = { integration: 'abc', main: null, originMain: null, pending: null }));
  await store.update((s) => void (s.seq += 1));
  assert.is(stateText(dir), whole);
  const lines = readFileSync(journalFile(dir), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(
    lines.map((l) => l.key),
    ['refs', 'seq'],
  );
  const disk = await readState(dir, '7');
  assert.is(disk.refs?.integration, 'abc');
  assert.is(disk.seq, 1);
  // Many durable changes: the journal never grows much past the size of state.json (or 64 KiB), as a whole write
  // takes its place.
  let largest = 0;
  let rewrites = 0;
  for (let i = 2; i < 600; i++) {
    const before = stateText(dir);
    await store.update((s) => void updateItem(s, 1, { attempts: i }));
    if (stateText(dir) !== before) rewrites += 1;
    if (existsSync(journalFile(dir))) largest = Math.max(largest, readFileSync(journalFile(dir)).length);
  }
  assert.ok(rewrites >= 1 && rewrites < 20, `${rewrites} whole writes`);
  assert.ok(largest < 70 * 1024, `the journal grew to ${largest} bytes`);
  assert.is((await readState(dir, '7')).items['1']?.attempts, 599);
  await store.flush();
});

test('journal lines cut short or written on top of an older state.json are not replayed', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  await store.update((s) => void (s.items['1'] = { ...emptyItem(1, 1), attempts: 1, status: 'in-progress' }));
  await store.update((s) => void updateItem(s, 1, { attempts: 2 }));
  await store.flush();
  const tag = stateTag(stateText(dir));
  // A line left by a crash between an older whole write and the journal's removal, one that fits, and a torn one.
  const stale = { ...emptyItem(1, 1), attempts: 9, status: 'in-progress' };
  const fresh = { ...emptyItem(1, 1), attempts: 3, status: 'in-progress' };
  appendFileSync(journalFile(dir), `${JSON.stringify({ on: '0123456789abcdef', issue: '1', item: stale })}\n`);
  appendFileSync(journalFile(dir), `${JSON.stringify({ on: tag, issue: '1', item: fresh })}\n`);
  appendFileSync(journalFile(dir), `{"on":"${tag}","issue":"1","item":{"attem`);
  assert.is((await readState(dir, '7')).items['1']?.attempts, 3);
  // Reopening folds what fits into state.json and drops the journal.
  const again = await openStateStore(dir, '7', { writeBehindMs: NEVER_MS });
  assert.is(again.current().items['1']?.attempts, 3);
  assert.is(JSON.parse(stateText(dir)).items['1'].attempts, 3);
  assert.not.ok(existsSync(journalFile(dir)));
});

test('a reader never sees the state go back while the runner journals and rewrites it', async () => {
  const dir = freshDir();
  // The writer: a store whose tick writes the whole state as soon as it can, so whole writes (and the journal's
  // removal) fall between a reader's reads of the journal and of state.json again and again.
  const script = `
    const { openStateStore } = await import(${JSON.stringify(moduleUrl('state.ts'))});
    const { updateItem } = await import(${JSON.stringify(moduleUrl('state-items.ts'))});
    const { emptyItem } = await import(${JSON.stringify(moduleUrl('state-types.ts'))});
    const store = await openStateStore(${JSON.stringify(dir)}, '7', { writeBehindMs: 0 });
    await store.update((s) => void (s.items['1'] = { ...emptyItem(1, 1), attempts: 1, status: 'in-progress' }));
    for (let i = 2; i <= 300; i++) {
      await store.update((s) => void updateItem(s, 1, { attempts: i }));
      await store.update((s) => void updateItem(s, 1, { failure: 'text ' + i }));
    }
    await store.flush();
  `;
  const writer = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  writer.stderr.on('data', (d) => (stderr += d));
  const ended = new Promise<number | null>((resolve) => writer.on('close', resolve));
  let running = true;
  void ended.then(() => (running = false));
  let seen = 0;
  let reads = 0;
  while (running) {
    let attempts: number | undefined;
    try {
      attempts = (await readState(dir, '7')).items['1']?.attempts;
    } catch {
      continue; // not written yet
    }
    reads += 1;
    if (attempts === undefined) continue;
    assert.ok(attempts >= seen, `read attempt ${attempts} after ${seen} (read ${reads})`);
    seen = attempts;
  }
  assert.is(await ended, 0, stderr);
  assert.is((await readState(dir, '7')).items['1']?.attempts, 300);
  assert.ok(reads > 0);
});

test('a runner killed between writes keeps its durable changes and loses only deferred ones', () => {
  const dir = freshDir();
  const state = pathToFileURL(path.join(ROOT, 'tasks', 'lib', 'state.ts')).href;
  const items = pathToFileURL(path.join(ROOT, 'tasks', 'lib', 'state-items.ts')).href;
  const types = pathToFileURL(path.join(ROOT, 'tasks', 'lib', 'state-types.ts')).href;
  const script = `
    const { openStateStore } = await import(${JSON.stringify(state)});
    const { updateItem } = await import(${JSON.stringify(items)});
    const { emptyItem } = await import(${JSON.stringify(types)});
    const store = await openStateStore(${JSON.stringify(dir)}, '7', { writeBehindMs: ${NEVER_MS} });
    await store.update((s) => void (s.items['1'] = emptyItem(1, 1)));
    await store.update((s) => void updateItem(s, 1, { attempts: 1, status: 'in-progress' }));
    await store.update((s) => void updateItem(s, 1, { attempts: 2 }));
    await store.update((s) => void updateItem(s, 1, { worktree: '/lost' }));
    process.kill(process.pid, 'SIGKILL');
  `;
  const out = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.is(out.signal, 'SIGKILL', out.stderr);
  // The second attempt is only in the journal.
  assert.ok(existsSync(journalFile(dir)));
  return readState(dir, '7').then((disk) => {
    assert.is(disk.items['1']?.attempts, 2);
    assert.is(disk.items['1']?.status, 'in-progress');
    assert.is(disk.items['1']?.worktree, null);
  });
});

test.run();
