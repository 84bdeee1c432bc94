/**
 * Lock files owned by a process (pid + start time): `run.lock`, one runner per milestone (docs/state.md), and the state
 * lock.
 */
import { mkdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { createFileExclusiveSync } from './atomic-file.ts';
import { ensureFolderSync } from './own-file.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadInputError, InterruptedError, NeedsAttentionError } from './errors.ts';
import { formatDuration } from './duration.ts';
import { isProcessAlive, processStartTime } from './process-info.ts';
import { readRegularFileSync } from './regular-file.ts';

/** Who holds a lock file. */
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
  /**
   * Whether the lock file still names this process. Agents run as the same user and can remove it: then it is made
   * again (`retaken`), unless another process took it meanwhile (`lost`, with the owner it names now).
   */
  check(): RunLockCheck;
}

/** What `RunLock.check` found. */
export type RunLockCheck =
  | { readonly kind: 'held' }
  | { readonly kind: 'retaken' }
  | { readonly kind: 'lost'; readonly owner: LockOwner | null };

/** Answer of one attempt to take a lock file. */
export type LockAttempt =
  | { readonly kind: 'taken'; readonly staleOwner: LockOwner | null; release(): void }
  | { readonly kind: 'held'; readonly owner: LockOwner | null };

/**
 * The lock files this process holds now (resolved paths). A lock file that names this process but is not among them
 * was written by someone else (an agent can read the runner's pid and start time from `run.lock`): it is taken for
 * stale, not waited for; else the runner would wait on itself for ever. Process-wide on purpose: it is a fact about
 * the process, shared by every store and lock in it.
 */
const heldHere = new Set<string>();

/** Whether `owner` holds `file`: a live process, and, when it is this process, one that really took it. */
function holds(owner: LockOwner, file: string): boolean {
  if (!isProcessAlive(owner.pid, owner.startTime)) return false;
  return owner.pid !== process.pid || heldHere.has(path.resolve(file));
}

/** A breaker left by a process that died inside its few-microsecond section is old after this long. */
const BREAKER_STALE_MS = 10_000;

/** This process as a lock owner. */
export function currentOwner(command: string): LockOwner {
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid) ?? '',
    startedAt: new Date().toISOString(),
    command,
  };
}

function readOwner(file: string): LockOwner | null | 'missing' {
  let text: string;
  try {
    text = readRegularFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    // A pipe or a folder (an agent's doing): no process holds it, so it can be broken like a dead owner's.
    if ((error as NodeJS.ErrnoException).code === 'ENOTREG') return null;
    throw error;
  }
  try {
    const data = JSON.parse(text) as Partial<LockOwner>;
    return typeof data.pid === 'number' && typeof data.startTime === 'string' ? (data as LockOwner) : null;
  } catch {
    return null;
  }
}

/**
 * Remove `file` when its owner is gone. Two processes that both judged it stale must not both remove it (the
 * second would remove the first one's fresh lock), so removal happens under `<file>.break`, after judging again.
 */
function breakStale(file: string): { removed: LockOwner | null } | 'busy' | 'alive' {
  const breaker = `${file}.break`;
  try {
    mkdirSync(breaker);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = (() => {
      try {
        return Date.now() - statSync(breaker).mtimeMs;
      } catch {
        return 0;
      }
    })();
    if (age > BREAKER_STALE_MS) {
      try {
        rmdirSync(breaker);
      } catch {
        // another process removed it first
      }
    }
    return 'busy';
  }
  try {
    // Under the breaker, a lock whose owner is dead cannot change: its owner will not release it, and creators need the
    // path free.
    const owner = readOwner(file);
    if (owner === 'missing') return { removed: null };
    if (owner && holds(owner, file)) return 'alive';
    unlinkSync(file);
    return { removed: owner };
  } finally {
    rmdirSync(breaker);
  }
}

/** One attempt to take the lock file `file`: taken (maybe after removing a stale one), or held by a live process. */
export function tryLockFile(file: string, owner: LockOwner): LockAttempt {
  let staleOwner: LockOwner | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createFileExclusiveSync(file, `${JSON.stringify(owner)}\n`)) {
      const key = path.resolve(file);
      heldHere.add(key);
      return {
        kind: 'taken',
        staleOwner,
        release() {
          heldHere.delete(key);
          const now = readOwner(file);
          if (now !== 'missing' && now?.pid === owner.pid && now.startTime === owner.startTime) unlinkSync(file);
        },
      };
    }
    const current = readOwner(file);
    if (current === 'missing') continue;
    // Our own pid counts as alive when this process took the file: a second store or runner in it waits like any
    // other.
    if (current && holds(current, file)) return { kind: 'held', owner: current };
    const broken = breakStale(file);
    // 'busy': another process is breaking this lock right now and will take it.
    if (broken === 'busy') return { kind: 'held', owner: null };
    if (broken === 'alive') continue;
    staleOwner = broken.removed ?? staleOwner;
  }
  const now = readOwner(file);
  return { kind: 'held', owner: now === 'missing' ? null : now };
}

/** Take the lock of `dir` or throw BadInputError naming the live owner. */
export function acquireRunLock(dir: string, milestone: string, command: string): RunLock {
  const file = path.join(dir, 'run.lock');
  const me = currentOwner(command);
  const attempt = tryLockFile(file, me);
  if (attempt.kind === 'taken') {
    const mine = (o: LockOwner | null | 'missing') =>
      o !== 'missing' && o?.pid === me.pid && o.startTime === me.startTime;
    return {
      tookOverFrom: attempt.staleOwner,
      release: attempt.release,
      check(): RunLockCheck {
        for (let look = 0; look < 2; look++) {
          const now = readOwner(file);
          if (mine(now)) return { kind: 'held' };
          if (now !== 'missing' && now !== null && isProcessAlive(now.pid, now.startTime))
            return { kind: 'lost', owner: now };
          // Removed, or replaced by something no live process holds (a pipe, a dead pid): this runner's again.
          if (now !== 'missing') {
            breakStale(file);
            if (readOwner(file) !== 'missing') continue;
          }
          // Its folder may be gone with it (the state folder removed): made again.
          ensureFolderSync(dir);
          if (createFileExclusiveSync(file, `${JSON.stringify(me)}\n`)) return { kind: 'retaken' };
        }
        const last = readOwner(file);
        return mine(last) ? { kind: 'held' } : { kind: 'lost', owner: last === 'missing' ? null : last };
      },
    };
  }
  const owner = attempt.owner;
  if (!owner) throw new BadInputError(`could not take ${file}; another runner is starting milestone ${milestone}`);
  throw new BadInputError(
    `milestone ${milestone} is already being run by pid ${owner.pid} (${owner.command ?? 'unknown command'}, since ${owner.startedAt ?? 'unknown'}); wait for it or stop it first`,
  );
}

/** The live process that holds the lock file `file` (`run.lock`), or null: none, or its owner is gone. Reads only. */
export function liveLockOwner(file: string): LockOwner | null {
  const owner = readOwner(file);
  return owner !== 'missing' && owner !== null && isProcessAlive(owner.pid, owner.startTime) ? owner : null;
}

/** How to wait for a lock file that another live process holds. */
export interface LockWait {
  readonly signal?: AbortSignal;
  /** Told once who holds it. */
  readonly onWait?: (owner: LockOwner | null) => void;
  /** Told each time the file is found held, with how many times so far. */
  readonly onBusy?: (tries: number) => void;
  /** Past this, the wait ends with a NeedsAttentionError naming the file and its holder (absent: as long as needed). */
  readonly maxWaitMs?: number;
  /** How long a holder keeps it, for that message ("a state write holds it for milliseconds"). */
  readonly heldFor?: string;
  /** The pause before look `tries` + 1. */
  readonly pauseMs: (tries: number) => number;
}

/**
 * Take `file`, waiting while a live process holds it: until `signal` aborts (InterruptedError), or `maxWaitMs` passed
 * (NeedsAttentionError: a holder that never lets go, such as a lock file an agent wrote naming a live process that is
 * no runner, must not hold the run for ever, on every re-run too).
 */
export async function waitForLockFile(
  file: string,
  owner: LockOwner,
  wait: LockWait,
): Promise<Extract<LockAttempt, { kind: 'taken' }>> {
  const started = Date.now();
  let lock = tryLockFile(file, owner);
  for (let i = 0; lock.kind === 'held'; i++) {
    if (i === 0) wait.onWait?.(lock.owner);
    wait.onBusy?.(i + 1);
    if (wait.signal?.aborted) throw new InterruptedError(`interrupted while waiting for ${path.basename(file)}`);
    if (wait.maxWaitMs !== undefined && Date.now() - started > wait.maxWaitMs) {
      const who = lock.owner
        ? `pid ${lock.owner.pid} (${lock.owner.command}, since ${lock.owner.startedAt})`
        : 'a process that is removing it';
      throw new NeedsAttentionError(
        `${file} has been held by ${who} for more than ${formatDuration(wait.maxWaitMs)}` +
          `${wait.heldFor ? `, and ${wait.heldFor}` : ''}; if that process is no work-milestone of this repository ` +
          '(someone else wrote the file), remove the file, then run again',
      );
    }
    await sleep(wait.pauseMs(i));
    lock = tryLockFile(file, owner);
  }
  return lock;
}
