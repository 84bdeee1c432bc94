/** Repository-wide locks shared by every milestone of one repository (landing, backlog numbers). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { currentOwner, waitForLockFile, type LockWait } from './run-lock.ts';

/** The lock file `<common dir>/work-milestone/<name>.lock`. */
export function repoLockFile(commonDir: string, name: string): string {
  return path.join(commonDir, 'work-milestone', `${name}.lock`);
}

/**
 * Run `fn` holding the repository-wide lock `name`; a live holder (another milestone's runner) is waited for,
 * a dead one's lock is taken over. `onWait` is told once who holds it; `maxWaitMs` bounds the wait.
 */
export async function withRepoLock<T>(
  commonDir: string,
  name: string,
  opts: Omit<LockWait, 'pauseMs'> & { readonly command: string },
  fn: () => Promise<T>,
): Promise<T> {
  const file = repoLockFile(commonDir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  const lock = await waitForLockFile(file, currentOwner(opts.command), {
    ...opts,
    pauseMs: (i) => Math.min(20 * (i + 1), 250),
  });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
