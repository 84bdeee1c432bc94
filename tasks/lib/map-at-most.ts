/** Bounded concurrency over a list: I/O per entry (a file, a git call) side by side, never all at once. */

/** `fn` of every entry, at most `limit` at a time; results in the entries' order. The first failure rejects. */
export async function mapAtMost<T, R>(
  entries: readonly T[],
  limit: number,
  fn: (entry: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(entries.length);
  let next = 0;
  const lane = async () => {
    while (next < entries.length) {
      const at = next++;
      out[at] = await fn(entries[at] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, entries.length) }, lane));
  return out;
}

/** `mapAtMost` that waits for every entry and gives each one's outcome, as `Promise.allSettled` does. */
export function settleAtMost<T, R>(
  entries: readonly T[],
  limit: number,
  fn: (entry: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  return mapAtMost(entries, limit, (entry) =>
    fn(entry).then(
      (value): PromiseSettledResult<R> => ({ status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<R> => ({ status: 'rejected', reason }),
    ),
  );
}
