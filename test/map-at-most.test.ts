/** Bounded concurrency (lib/map-at-most.ts): order kept, never more than the limit in flight, a failure rejects. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mapAtMost } from '../tasks/lib/map-at-most.ts';

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

test.run();
