/** A counting semaphore whose waiters are served lowest rank first (ties: first come first served). */

/** Slots handed out by rank. */
export interface RankedSlots {
  readonly size: number;
  /** Wait for a slot; the lowest rank waiting gets the next free one. Call the returned function to give it back. */
  acquire(rank: number): Promise<() => void>;
}

/** Create `size` ranked slots. */
export function createRankedSlots(size: number): RankedSlots {
  let free = size;
  let arrivals = 0;
  const waiting: Array<{ readonly rank: number; readonly seq: number; readonly grant: () => void }> = [];
  const release = (): void => {
    if (waiting.length === 0) {
      free++;
      return;
    }
    let best = 0;
    for (let i = 1; i < waiting.length; i++) {
      const w = waiting[i] as (typeof waiting)[number];
      const b = waiting[best] as (typeof waiting)[number];
      if (w.rank < b.rank || (w.rank === b.rank && w.seq < b.seq)) best = i;
    }
    const [next] = waiting.splice(best, 1);
    next?.grant();
  };
  return {
    size,
    acquire(rank) {
      if (free > 0) {
        free--;
        return Promise.resolve(once(release));
      }
      return new Promise((resolve) => waiting.push({ rank, seq: arrivals++, grant: () => resolve(once(release)) }));
    },
  };
}

/** A release that gives the slot back once, however often it is called. */
function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}
