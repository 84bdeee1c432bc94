/** A counting semaphore: at most `size` holders at once, served first come first served. */

/** Slots for concurrent agents. */
export interface Slots {
  readonly size: number;
  acquire(): Promise<() => void>;
}

/** Create `size` slots. */
export function createSlots(size: number): Slots {
  let free = size;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  return {
    size,
    acquire() {
      if (free > 0) {
        free--;
        return Promise.resolve(release);
      }
      return new Promise((resolve) => waiting.push(() => resolve(release)));
    },
  };
}
