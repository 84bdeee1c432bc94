/**
 * Concurrent reads of the same thing, coalesced: a caller gets the result of a read that started after it asked
 * (or after the moment it names, `since`), never an older one. While a read runs, everyone who asks meanwhile shares
 * the one read that starts when it ends. Many agents judged at once (a wave of quick agents) then cost two
 * `git status` of a checkout, not one each, and no answer is older than what the caller needs (docs/performance.md).
 */
import { performance } from 'node:perf_hooks';

/** Reads in flight and the next one, by key. */
interface Slot {
  current: Promise<unknown> | null;
  next: Promise<unknown> | null;
  /** The latest read started, and when (`readClock`): shared with callers who need nothing older. */
  last: { readonly startedAt: number; readonly result: Promise<unknown> } | null;
}

/** The clock `since` is measured on: monotonic, so a clock change cannot make an old read look new. */
export const readClock = (): number => performance.now();

/**
 * The one table of reads of this process; keys name what is read (`status\0<dir>`). A finished read is kept (the
 * latest one per key) only for callers that name a `since` it started after; everyone else gets a read that
 * starts after they asked.
 */
const inFlight = new Map<string, Slot>();

/**
 * `read()` for `key`, shared with callers who asked while it had not started yet; with `since` (a `readClock` time),
 * also with every caller for whom a read started at or after that moment is fresh enough (running or finished).
 */
export function freshRead<T>(key: string, read: () => Promise<T>, since?: number): Promise<T> {
  let slot = inFlight.get(key);
  if (!slot) {
    slot = { current: null, next: null, last: null };
    inFlight.set(key, slot);
  }
  const s = slot;
  if (since !== undefined && s.last && s.last.startedAt >= since) return s.last.result as Promise<T>;
  const start = (): Promise<T> => {
    const startedAt = readClock();
    const p = read();
    s.current = p;
    s.last = { startedAt, result: p };
    const done = () => {
      if (s.current === p) s.current = null;
    };
    p.then(done, done);
    return p;
  };
  if (!s.current) return start();
  s.next ??= s.current
    .catch(() => undefined)
    .then(() => {
      s.next = null;
      return start();
    });
  return s.next as Promise<T>;
}
