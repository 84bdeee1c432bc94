/** Output files cut to a size limit once their writer is stopped, so what it printed past the limit takes no disk. */
import { appendFileSync, statSync, truncateSync } from 'node:fs';

/**
 * Cut `file` to `limit` bytes and end it with `note` (on a line of its own), which every quote of its end shows.
 * Nothing when it is within the limit or gone.
 */
export function cutFile(file: string, limit: number, note: string): void {
  try {
    if ((statSync(file, { throwIfNoEntry: false })?.size ?? 0) <= limit) return;
    truncateSync(file, limit);
    appendFileSync(file, `\n${note}\n`);
  } catch {
    // removed meanwhile: nothing to cut
  }
}
