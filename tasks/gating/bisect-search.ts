/**
 * The search of a bisection, pure (docs/bisection.md): over candidate tips t[0..n] — t[0] green, t[n] red, t[i] the
 * tip after the i-th change — the first red tip, by halving. ⌈log2 n⌉ probes for one culprit among n changes.
 */

/** What a probe of one candidate tip said. */
export type ProbeVerdict = 'green' | 'red';

/** The next thing a bisection does: probe tip `index`, or the first red tip is `index`. */
export type BisectStep =
  { readonly kind: 'probe'; readonly index: number } | { readonly kind: 'found'; readonly index: number };

/**
 * The next step of the search over t[0..n] given the verdicts known so far (`verdicts[i]` for tip i; tip 0 counts as
 * green and tip n as red when not given). A red tip below a green one (a flaky or non-monotonic gate) is resolved
 * towards the lowest red: the search stays within ⌈log2 n⌉ probes and never loops.
 */
export function nextBisectStep(n: number, verdicts: ReadonlyMap<number, ProbeVerdict>): BisectStep {
  if (!Number.isInteger(n) || n < 1) throw new Error(`internal: a bisection needs at least one change (got ${n})`);
  let hi = n;
  for (const [i, v] of verdicts) if (v === 'red' && i >= 1 && i < hi) hi = i;
  let lo = 0;
  for (const [i, v] of verdicts) if (v === 'green' && i > lo && i < hi) lo = i;
  if (hi - lo <= 1) return { kind: 'found', index: hi };
  return { kind: 'probe', index: lo + Math.floor((hi - lo) / 2) };
}

/** The most probes a search over `n` changes makes: ⌈log2 n⌉. */
export function maxProbes(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}
