/**
 * The runner's write-behind state store (`tasks/lib/state.ts`, docs/state.md "When state.json is written"): what a
 * crash must not lose is on disk when update() resolves, the rest at flush() or the tick; a killed runner loses only
 * the latter; snapshots handed out by current() never change afterwards.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openStateStore, readState } from '../tasks/lib/state.ts';
import { emptyItem } from '../tasks/lib/state-types.ts';
import { updateItem } from '../tasks/lib/state-items.ts';
import { ROOT, tempDir } from './support/fixture.ts';

const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const dirs: string[] = [];

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
  // The durable write carries the deferred change made before it.
  assert.is(disk.items['1']?.failure, 'deferred text');
  await store.update((s) => void updateItem(s, 1, { base: 'def' }), { durable: true });
  assert.is((await readState(dir, '7')).items['1']?.base, 'def');
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
    await store.update((s) => void updateItem(s, 1, { worktree: '/lost' }));
    process.kill(process.pid, 'SIGKILL');
  `;
  const out = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.is(out.signal, 'SIGKILL', out.stderr);
  return readState(dir, '7').then((disk) => {
    assert.is(disk.items['1']?.attempts, 1);
    assert.is(disk.items['1']?.status, 'in-progress');
    assert.is(disk.items['1']?.worktree, null);
  });
});

test.run();
