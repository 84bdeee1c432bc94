/**
 * `tasks/lib/state.ts` and `events.ts` (docs/state.md): a fresh state, a round trip, one sentence naming a bad file;
 * two writer processes that lose no update and never leave a partial file; events.jsonl lines that always parse.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InterruptedError, NeedsAttentionError, StepFailedError } from '../tasks/lib/errors.ts';
import { currentOwner, waitForLockFile } from '../tasks/lib/run-lock.ts';
import { createEventSink } from '../tasks/lib/events.ts';
import { processStartTime } from '../tasks/lib/process-info.ts';
import { openStateStore, readState, UnreadableStateError } from '../tasks/lib/state.ts';
import { emptyItem, emptyState, type State } from '../tasks/lib/state-types.ts';
import { ROOT, tempDir } from './support/fixture.ts';
import { rmSync } from 'node:fs';

const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const WRITER = path.join(ROOT, 'test', 'support', 'state-writer.ts');
const dirs: string[] = [];

function freshDir(): string {
  const dir = tempDir('wm-state-');
  dirs.push(dir);
  return path.join(dir, 'milestone-7');
}

/** Start a writer process; resolves with its exit code and stderr. */
function startWriter(
  mode: 'state' | 'events',
  dir: string,
  issue: number,
  count: number,
  gate?: string,
): { child: ChildProcess; done: Promise<{ code: number | null; stderr: string }> } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const args = [WRITER, mode, dir, String(issue), String(count), ...(gate ? [gate] : [])];
  const child = spawn(process.execPath, ['--import', TSX, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return { child, done };
}

/** The message of what `fn` rejects with (it must reject). */
async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** JSON.parse's message for `text`. */
function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

/** Every file of a folder with its content. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
  );
}

function assertOneSentenceNaming(error: Error, file: string): void {
  assert.instance(error, StepFailedError);
  assert.ok(error.message.includes(file), `message does not name ${file}: ${error.message}`);
  assert.not.match(error.message, /\n/, 'more than one line');
  assert.not.match(error.message, /^\s+at /m);
}

test('readState: no file is a fresh state; openStateStore creates the folder and writes nothing yet', async () => {
  const dir = freshDir();
  assert.equal(await readState(dir, '7'), emptyState('7'));
  const store = await openStateStore(dir, '7');
  assert.ok(existsSync(dir));
  assert.not.ok(existsSync(path.join(dir, 'state.json')));
  assert.equal(store.current(), emptyState('7'));
});

test('round trip: what update() writes, readState and a second store read back; the file is pretty JSON', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7');
  const written = await store.update((s) => {
    s.items = { '42': { ...emptyItem(42, 1), status: 'in-progress', branch: 'work/7-42-tokenizer' } };
    s.prepare = { kind: 'clean', at: '2026-01-01T00:00:00.000Z' };
    s.seq = 3;
  });
  assert.is(written.items['42']?.status, 'in-progress');
  assert.equal(store.current(), written);
  assert.equal(await readState(dir, '7'), written);
  const other = await openStateStore(dir, '7');
  assert.equal(other.current(), written);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')), written);
  assert.ok(readFileSync(path.join(dir, 'state.json'), 'utf8').endsWith('}\n'));
  // The second store sees the first one's later writes after reload(), and builds on them in update().
  await store.update((s) => void (s.seq = 4));
  assert.is(other.current().seq, 3);
  assert.is((await other.reload()).seq, 4);
  assert.is((await other.update((s) => void (s.seq += 1))).seq, 5);
  // No temp files or lock left behind; the backup holds what state.json holds.
  assert.equal(readdirSync(dir).sort(), ['state.json', 'state.json.bak']);
  assert.is(readFileSync(path.join(dir, 'state.json.bak'), 'utf8'), readFileSync(path.join(dir, 'state.json'), 'utf8'));
});

test('an update that breaks the schema is refused and changes nothing; a throwing update changes nothing', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7');
  await store.update((s) => void (s.seq = 1));
  const bad = await rejection(() => store.update((s) => void ((s as { seq: unknown }).seq = 'many')));
  assert.match(bad.message, /breaks the schema/);
  await rejection(() =>
    store.update(() => {
      throw new Error('boom');
    }),
  );
  assert.is((await readState(dir, '7')).seq, 1);
  // The store still works afterwards (its queue and the lock were released).
  assert.is((await store.update((s) => void (s.seq = 2))).seq, 2);
  assert.equal(readdirSync(dir).sort(), ['state.json', 'state.json.bak']);
});

test('invalid JSON, an empty file and a schema-invalid file: one sentence naming the file, advising nothing', async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'state.json');
  const cases: Array<[string, RegExp]> = [
    ['{"version": 1, "milestone": "7",', /is not valid JSON/],
    ['', /is not valid JSON \(it is empty\)/],
    [JSON.stringify({ ...emptyState('7'), version: 2 }), /does not match schema\/state\.schema\.json \(\/version /],
    [
      JSON.stringify({ ...emptyState('7'), items: { '42': { ...emptyItem(42, 1), status: 'done' } } }),
      /\(\/items\/42\/status must be equal to one of the allowed values\)/,
    ],
    [JSON.stringify({ ...emptyState('7'), surprise: true }), /does not match schema/],
    [JSON.stringify(emptyState('8')), /holds the state of milestone 8, not 7/],
  ];
  for (const [text, pattern] of cases) {
    writeFileSync(file, text);
    const error = await rejection(() => readState(dir, '7'));
    assertOneSentenceNaming(error, file);
    assert.instance(error, UnreadableStateError);
    assert.match(error.message, pattern);
    // "Move it away to start afresh" started every item again while the first agents lived: no advice here.
    assert.not.match(error.message, /move it away|afresh/);
    // Without a backup or a way to rebuild, opening the store refuses the same way and leaves the file as it is.
    const opening = await rejection(() => openStateStore(dir, '7'));
    assert.is(opening.message, error.message);
    assert.is(readFileSync(file, 'utf8'), text);
  }
  // A folder where the file should be.
  rmSync(file);
  mkdirSync(file);
  const error = await rejection(() => readState(dir, '7'));
  assertOneSentenceNaming(error, file);
  assert.match(error.message, /state\.json cannot be read \(not a regular file\)$/);
});

test('a clobbered state.json is restored from its backup (the unusable file kept aside); read-only opening writes nothing', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7');
  const written = await store.update((s) => {
    s.items = { '42': { ...emptyItem(42, 1), status: 'in-progress', attempts: 2 } };
    s.seq = 9;
  });
  const file = path.join(dir, 'state.json');
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, good.slice(0, 40));
  const before = snapshot(dir);
  const reader = await openStateStore(dir, '7', { readOnly: true });
  assert.equal(reader.current(), written);
  assert.equal(reader.healed, {
    problem: `${file} is not valid JSON (${jsonError(good.slice(0, 40))})`,
    from: 'backup',
    keptAs: null,
  });
  await rejection(() => reader.update((s) => void (s.seq = 1)));
  assert.equal(snapshot(dir), before, 'a read-only store wrote');

  const healed = await openStateStore(dir, '7');
  assert.equal(healed.current(), written);
  assert.is(healed.healed?.from, 'backup');
  const kept = healed.healed?.keptAs as string;
  assert.match(path.basename(kept), /^state\.json\.unreadable-/);
  assert.is(readFileSync(kept, 'utf8'), good.slice(0, 40));
  assert.is(readFileSync(file, 'utf8'), good);
  // Clobbered while a store holds it: the next update builds on the backup.
  writeFileSync(file, '');
  assert.is((await healed.update((s) => void (s.seq += 1))).seq, 10);
});

test('no usable backup: the state is rebuilt by the given function, or the store refuses naming the file and why rebuilding failed', async () => {
  const dir = freshDir();
  const store = await openStateStore(dir, '7');
  await store.update((s) => void (s.seq = 3));
  const file = path.join(dir, 'state.json');
  writeFileSync(file, '{');
  writeFileSync(path.join(dir, 'state.json.bak'), JSON.stringify(emptyState('8')));
  const rebuilt = { ...emptyState('7'), seq: 5 };
  const problems: string[] = [];
  const healed = await openStateStore(dir, '7', { rebuild: async (problem) => (problems.push(problem), rebuilt) });
  assert.equal(healed.current(), rebuilt);
  assert.is(healed.healed?.from, 'rebuilt');
  assert.equal(problems, [`${file} is not valid JSON (${jsonError('{')})`]);
  assert.equal(await readState(dir, '7'), rebuilt);

  // Missing beside the files of a milestone that ran: rebuilt too (a fresh state would start every item again).
  rmSync(file);
  const missing = await openStateStore(dir, '7', { rebuild: async () => ({ ...emptyState('7'), seq: 6 }) });
  assert.is(missing.current().seq, 5, 'the backup written with the rebuilt state is used first');
  assert.equal(missing.healed, { problem: `${file} is missing`, from: 'backup', keptAs: null });

  writeFileSync(file, 'nonsense');
  rmSync(path.join(dir, 'state.json.bak'));
  const failed = await rejection(() =>
    openStateStore(dir, '7', { rebuild: () => Promise.reject(new Error('git is broken')) }),
  );
  assertOneSentenceNaming(failed, file);
  assert.match(
    failed.message,
    /is not valid JSON \(.*\), and rebuilding it from the milestone's files failed \(git is broken\)$/,
  );
  assert.is(readFileSync(file, 'utf8'), 'nonsense', 'a failed rebuild touched the file');
});

test('concurrent updates inside one process (two stores, one folder) lose nothing', async () => {
  const dir = freshDir();
  const a = await openStateStore(dir, '7');
  const b = await openStateStore(dir, '7');
  await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).update((s) => void (s.seq += 1))));
  assert.is((await readState(dir, '7')).seq, 60);
});

test('two writer processes × 200 updates: nothing lost, the file always whole and valid', async () => {
  const dir = freshDir();
  await openStateStore(dir, '7');
  const file = path.join(dir, 'state.json');
  // Writer 1 stops after 100 updates until a read here has seen a state both had written to: at least one read
  // provably happens while they run, whatever the scheduling.
  const gate = path.join(path.dirname(dir), 'gate');
  const one = startWriter('state', dir, 1, 200, gate);
  const two = startWriter('state', dir, 2, 200);
  let finished = false;
  const ended = Promise.all([one.done, two.done]).finally(() => (finished = true));
  // Poll meanwhile: every read is a whole, schema-valid state.
  const midRun: number[] = [];
  let lastSeq = 0;
  const problems: string[] = [];
  while (!finished) {
    if (existsSync(file)) {
      try {
        const state: State = await readState(dir, '7');
        assert.ok(state.seq >= lastSeq, 'seq went backwards');
        lastSeq = state.seq;
        if (state.seq > 0 && state.seq < 400) midRun.push(state.seq);
        if ((state.items['1']?.attempts ?? 0) > 0 && !existsSync(gate)) writeFileSync(gate, '');
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    await sleep(2);
  }
  const [r1, r2] = await ended;
  assert.is(r1.code, 0, r1.stderr);
  assert.is(r2.code, 0, r2.stderr);
  assert.equal(problems, []);
  assert.ok(existsSync(gate), 'no read saw writer 1 at work');
  assert.ok(midRun.length > 0, 'no read happened while the writers ran');
  const state = await readState(dir, '7');
  assert.is(state.items['1']?.attempts, 200);
  assert.is(state.items['2']?.attempts, 200);
  assert.is(state.seq, 400);
  assert.equal(readdirSync(dir).sort(), ['state.json', 'state.json.bak']);
});

test('a state.lock left by a dead process is taken over; one held by a live process is waited for', async () => {
  const dir = freshDir();
  // Resolved once an update has found the live holder's lock busy five times in a row (and so kept waiting).
  let busyFiveTimes: () => void = () => undefined;
  const waitedFiveTimes = new Promise<void>((resolve) => (busyFiveTimes = resolve));
  const store = await openStateStore(dir, '7', { onLockBusy: (tries) => tries >= 5 && busyFiveTimes() });
  const lock = path.join(dir, 'state.lock');
  // A pid that is not running (pid_max is below 2^22 by default; 2^22 + 1 cannot exist).
  writeFileSync(lock, JSON.stringify({ pid: 4_194_305, startTime: '1', startedAt: 'then', command: 'state update' }));
  assert.is((await store.update((s) => void (s.seq = 1))).seq, 1);
  assert.not.ok(existsSync(lock));

  // Our own pid with another start time: a reused pid, so stale as well.
  writeFileSync(
    lock,
    JSON.stringify({ pid: process.pid, startTime: 'another', startedAt: 'then', command: 'state update' }),
  );
  assert.is((await store.update((s) => void (s.seq = 2))).seq, 2);

  // This very process, with its real start time, but it did not take the file (an agent copied the runner's pid from
  // run.lock): taken over, never waited for (the runner would wait on itself for ever).
  writeFileSync(
    lock,
    JSON.stringify({ pid: process.pid, startTime: processStartTime(process.pid), startedAt: 'then', command: 'x' }),
  );
  assert.is((await store.update((s) => void (s.seq = 2))).seq, 2);
  assert.not.ok(existsSync(lock));

  // A live holder (a sleeping child with its real start time), however old, is waited for.
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pid = holder.pid as number;
    writeFileSync(
      lock,
      JSON.stringify({ pid, startTime: processStartTime(pid), startedAt: 'long ago', command: 'state update' }),
    );
    let done = false;
    const pending = store.update((s) => void (s.seq = 3)).then(() => (done = true));
    await waitedFiveTimes;
    assert.not.ok(done, 'the update did not wait for the live holder');
    assert.is((await readState(dir, '7')).seq, 2);
    rmSync(lock);
    await pending;
    assert.is((await readState(dir, '7')).seq, 3);
  } finally {
    holder.kill('SIGKILL');
  }
});

test('waitForLockFile: a live holder that never lets go ends the wait past maxWaitMs, naming it; an abort ends it too', async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'x.lock');
  // pid 1 is alive and is no runner: a lock file an agent wrote naming it.
  writeFileSync(lock, JSON.stringify({ pid: 1, startTime: processStartTime(1), startedAt: 'then', command: 'forged' }));
  const me = currentOwner('test');
  const late = await waitForLockFile(lock, me, {
    maxWaitMs: 1000,
    heldFor: 'it is held briefly',
    pauseMs: () => 5,
  }).then(
    () => null,
    (error: unknown) => error,
  );
  assert.instance(late, NeedsAttentionError);
  assert.match(
    (late as Error).message,
    `${lock} has been held by pid 1 (forged, since then) for more than 1s, and it is held briefly; if that process`,
  );
  const abort = new AbortController();
  abort.abort();
  const stopped = await waitForLockFile(lock, me, { signal: abort.signal, pauseMs: () => 5 }).catch((e: unknown) => e);
  assert.instance(stopped, InterruptedError);
  assert.ok(existsSync(lock), 'left as it was');
});

test('events.jsonl: lines of two appending processes (20 kB each) never interleave', async () => {
  const dir = freshDir();
  const sink = createEventSink(dir);
  const file = path.join(dir, 'events.jsonl');
  // Writer 1 stops after 150 lines until a check here has parsed one of its lines: checks provably run mid-write.
  const gate = path.join(path.dirname(dir), 'gate-events');
  const one = startWriter('events', dir, 1, 300, gate);
  const two = startWriter('events', dir, 2, 300);
  let finished = false;
  const ended = Promise.all([one.done, two.done]).finally(() => (finished = true));
  let checks = 0;
  const broken: string[] = [];
  while (!finished) {
    sink.emit({ type: 'notice', message: `poll ${checks}` });
    // Every complete line (the last one may still be being written) parses.
    const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
    for (const line of lines) {
      try {
        const e = JSON.parse(line) as { type: string; issue?: number };
        if (e.type === 'item' && e.issue === 1 && !existsSync(gate)) writeFileSync(gate, '');
      } catch {
        broken.push(line.slice(0, 80));
      }
    }
    checks++;
    await sleep(5);
  }
  const [r1, r2] = await ended;
  assert.is(r1.code, 0, r1.stderr);
  assert.is(r2.code, 0, r2.stderr);
  assert.equal(broken, []);
  assert.ok(existsSync(gate), "no check saw writer 1's lines");
  const events = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; issue?: number; status?: string; t: string });
  for (const issue of [1, 2]) {
    const mine = events.filter((e) => e.type === 'item' && e.issue === issue);
    assert.is(mine.length, 300);
    // Each writer's own events are in the order it wrote them.
    assert.equal(
      mine.map((e) => e.status),
      Array.from({ length: 300 }, (_, i) => `n${i}`),
    );
  }
  assert.is(events.filter((e) => e.type === 'notice').length, checks);
  assert.ok(events.every((e) => typeof e.t === 'string' && !Number.isNaN(Date.parse(e.t))));
});

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test.run();
