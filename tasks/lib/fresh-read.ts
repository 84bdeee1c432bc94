/**
 * Concurrent reads of the same thing, coalesced: a caller gets the result of a read that started after it asked,
 * never an older one. While a read runs, everyone who asks meanwhile shares the one read that starts when it ends.
 * Many agents judged at once (a wave of quick agents) then cost two `git status` of a checkout, not one each, and
 * no answer is older than the question (docs/performance.md).
 */

/** Reads in flight and the next one, by key. */
interface Slot {
  current: Promise<unknown> | null;
  next: Promise<unknown> | null;
}

/**
 * The one table of reads in flight of this process. Entries live only while a read runs (nothing is kept after it:
 * this is not a cache); keys name what is read (`status\0<dir>`).
 */
const inFlight = new Map<string, Slot>();

/** `read()` for `key`, shared with callers who asked while it had not started yet. */
export function freshRead<T>(key: string, read: () => Promise<T>): Promise<T> {
  let slot = inFlight.get(key);
  if (!slot) {
    slot = { current: null, next: null };
    inFlight.set(key, slot);
  }
  const s = slot;
  const start = (): Promise<T> => {
    const p = read();
    s.current = p;
    const done = () => {
      if (s.current === p) s.current = null;
      if (!s.current && !s.next) inFlight.delete(key);
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
