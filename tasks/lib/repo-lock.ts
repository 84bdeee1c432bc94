/** Repository-wide locks shared by every milestone of one repository (landing, backlog numbers). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError } from './errors.ts';
import { currentOwner, tryLockFile, type LockOwner } from './run-lock.ts';

/** The lock file `<common dir>/work-milestone/<name>.lock`. */
export function repoLockFile(commonDir: string, name: string): string {
  return path.join(commonDir, 'work-milestone', `${name}.lock`);
}

/**
 * Run `fn` holding the repository-wide lock `name`; a live holder (another milestone's runner) is waited for,
 * a dead one's lock is taken over. `onWait` is told once who holds it.
 */
export async function withRepoLock<T>(
  commonDir: string,
  name: string,
  opts: {
    readonly signal?: AbortSignal;
    readonly command: string;
    readonly onWait?: (owner: LockOwner | null) => void;
  },
  fn: () => Promise<T>,
): Promise<T> {
  const file = repoLockFile(commonDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const owner = currentOwner(opts.command);
  let lock = tryLockFile(file, owner);
  for (let i = 0; lock.kind === 'held'; i++) {
    if (i === 0) opts.onWait?.(lock.owner);
    if (opts.signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${path.basename(file)}`);
    await sleep(Math.min(20 * (i + 1), 250));
    lock = tryLockFile(file, owner);
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
