/** `run.lock`: one runner per milestone (DESIGN §7); a lock whose owner is gone is taken over with a notice. */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BadInputError } from './errors.ts';
import { isProcessAlive, processStartTime } from './process-info.ts';

/** Who holds the lock. */
export interface LockOwner {
  readonly pid: number;
  readonly startTime: string;
  readonly startedAt: string;
  readonly command: string;
}

/** A held lock. */
export interface RunLock {
  /** The stale owner it replaced, if any (for the notice). */
  readonly tookOverFrom: LockOwner | null;
  release(): void;
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return null;
  }
}

/** Take the lock of `dir` or throw BadInputError naming the live owner. */
export function acquireRunLock(dir: string, milestone: string, command: string): RunLock {
  const file = path.join(dir, 'run.lock');
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', startedAt: new Date().toISOString(), command };
  let tookOverFrom: LockOwner | null = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: 'wx' });
      return {
        tookOverFrom,
        release() {
          if (readOwner(file)?.pid === me.pid) unlinkSync(file);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(file);
    if (owner && isProcessAlive(owner.pid, owner.startTime)) {
      throw new BadInputError(`milestone ${milestone} is already being run by pid ${owner.pid} (${owner.command}, since ${owner.startedAt}); wait for it or stop it first`);
    }
    // Move the stale lock aside atomically; if what we moved is not what we judged stale, put it back.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readOwner(aside);
    if (moved && owner && (moved.pid !== owner.pid || moved.startTime !== owner.startTime)) {
      renameSync(aside, file);
      continue;
    }
    unlinkSync(aside);
    tookOverFrom = owner;
  }
  throw new BadInputError(`could not take ${file}; another runner is starting milestone ${milestone}`);
}
