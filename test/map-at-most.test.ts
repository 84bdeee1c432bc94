/** Bounded concurrency (lib/map-at-most.ts): order kept, never more than the limit in flight, a failure rejects. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DiagnosticsError, settledValues } from '../tasks/lib/diagnostics.ts';
import { mapAtMost, settleAtMost } from '../tasks/lib/map-at-most.ts';

/** A promise and the function that settles it: the test decides when each entry ends, not a timer. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

test('results come in the entries’ order, with at most `limit` entries in flight', async () => {
  const gates = Array.from({ length: 7 }, gate);
  let inFlight = 0;
  let most = 0;
  const started: number[] = [];
  const done = mapAtMost([0, 1, 2, 3, 4, 5, 6], 3, async (i) => {
    started.push(i);
    inFlight += 1;
    most = Math.max(most, inFlight);
    await gates[i]?.promise;
    inFlight -= 1;
    return i * 10;
  });
  await Promise.resolve();
  assert.equal(started, [0, 1, 2], 'three start at once, no more');
  // End them out of order: a freed lane takes the next entry.
  for (const i of [2, 0, 6, 5, 4, 3, 1]) {
    gates[i]?.open();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await done, [0, 10, 20, 30, 40, 50, 60]);
  assert.is(most, 3);
  assert.equal([...started].sort(), [0, 1, 2, 3, 4, 5, 6]);
});

test('an empty list gives an empty result; a failure rejects with that error', async () => {
  assert.equal(await mapAtMost([], 4, async () => 1), []);
  try {
    await mapAtMost([1, 2, 3], 2, async (i) => {
      if (i === 2) throw new Error('two failed');
      return i;
    });
    assert.unreachable('should have rejected');
  } catch (error) {
    assert.is((error as Error).message, 'two failed');
  }
});

/** Bad input in `file`, as a backlog read reports it. */
const bad = (file: string) => new DiagnosticsError([{ severity: 'error', file, line: 1, col: 1, message: 'broken' }]);

test('settled reads: every file’s diagnostics at once, whichever read ended first; an I/O error before them', async () => {
  const gates = Array.from({ length: 3 }, gate);
  const reads = settleAtMost([0, 1, 2], 3, async (i) => {
    await gates[i]?.promise;
    if (i === 0) throw bad('b.md');
    if (i === 2) throw bad('a.md');
    return i;
  });
  // The later entry's read ends first.
  for (const i of [2, 1, 0]) {
    gates[i]?.open();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const results = await reads;
  assert.equal(
    results.map((r) => r.status),
    ['rejected', 'fulfilled', 'rejected'],
  );
  assert.throws(
    () => settledValues(results),
    (e: unknown) => (e as Error).message === 'a.md:1:1 error: broken\nb.md:1:1 error: broken',
  );
  const io = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
  assert.throws(
    () =>
      settledValues([
        { status: 'rejected', reason: bad('a.md') },
        { status: 'rejected', reason: io },
      ]),
    (e: unknown) => e === io,
  );
  assert.equal(settledValues([{ status: 'fulfilled', value: 1 }]), [1]);
});

test.run();
