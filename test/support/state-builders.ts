/** Hand-made pieces of state for tests of the pure functions. */
import type { ItemResult } from '../../tasks/lib/state-types.ts';

/** An item's result with nothing in it but `over`. */
export function itemResult(over: Partial<ItemResult> = {}): ItemResult {
  return {
    report: null,
    commits: [],
    files: [],
    uncommitted: [],
    flags: [],
    costUsd: null,
    turns: null,
    sessionId: null,
    usage: null,
    denials: [],
    durationMs: 0,
    ...over,
  };
}
