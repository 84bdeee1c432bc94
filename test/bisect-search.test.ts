/** The pure search of a bisection: the first red tip of t[0..n], within ⌈log2 n⌉ probes, whatever the verdicts. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxProbes, nextBisectStep, type ProbeVerdict } from '../tasks/gating/bisect-search.ts';

/** Run the search against a gate that is red from tip `culprit` on; returns the found index and the probes made. */
function search(n: number, verdictOf: (i: number) => ProbeVerdict): { found: number; probes: number[] } {
  const verdicts = new Map<number, ProbeVerdict>();
  const probes: number[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const step = nextBisectStep(n, verdicts);
    if (step.kind === 'found') return { found: step.index, probes };
    assert.ok(step.index > 0 && step.index < n, `probe ${step.index} outside 1..${n - 1}`);
    assert.not.ok(verdicts.has(step.index), `tip ${step.index} probed twice`);
    probes.push(step.index);
    verdicts.set(step.index, verdictOf(step.index));
  }
  throw new Error('the search did not end');
}

test('every culprit position of every size up to 64: found, within ⌈log2 n⌉ probes', () => {
  for (let n = 1; n <= 64; n++) {
    for (let culprit = 1; culprit <= n; culprit++) {
      const { found, probes } = search(n, (i) => (i >= culprit ? 'red' : 'green'));
      assert.is(found, culprit, `n=${n} culprit=${culprit}`);
      assert.ok(probes.length <= maxProbes(n), `n=${n} culprit=${culprit}: ${probes.length} probes`);
    }
  }
  assert.is(maxProbes(8), 3);
  assert.is(maxProbes(1), 0);
});

test('a gate that is not monotonic (flaky probes) still ends within the bound, on a red tip after a green one', () => {
  for (let n = 2; n <= 32; n++) {
    for (let seed = 0; seed < 50; seed++) {
      const coin = (i: number): ProbeVerdict => (((i * 7919 + seed * 104729) >> 3) % 2 === 0 ? 'red' : 'green');
      const { found, probes } = search(n, coin);
      assert.ok(found >= 1 && found <= n);
      assert.ok(probes.length <= maxProbes(n));
    }
  }
});

test('known verdicts resume the search where it was (a runner killed between probes)', () => {
  const verdicts = new Map<number, ProbeVerdict>([[4, 'green']]);
  assert.equal(nextBisectStep(8, verdicts), { kind: 'probe', index: 6 });
  verdicts.set(6, 'red');
  verdicts.set(5, 'red');
  assert.equal(nextBisectStep(8, verdicts), { kind: 'found', index: 5 });
  assert.throws(() => nextBisectStep(0, new Map()), /at least one change/);
});

test.run();
