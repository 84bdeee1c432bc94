/** The one module that reads and writes `state.json` (DESIGN §7): validated on read, written atomically. */
import { mkdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StepFailedError } from './errors.ts';
import { loadSchema } from './schema-check.ts';
import { emptyState, type State } from './state-types.ts';

const validateState = loadSchema('state.schema.json');
const LOCK_STALE_MS = 10_000;

/** A deep mutable copy of a read-only type, for update functions. */
export type Draft<T> = T extends ReadonlyArray<infer U> ? ReadonlyArray<Draft<U>> : T extends object ? { -readonly [K in keyof T]: Draft<T[K]> } : T;

/** State of one milestone, shared by the steps of one runner; every update is read-modify-write under a lock. */
export interface StateStore {
  readonly dir: string;
  /** The state as last read or written. */
  current(): State;
  /** Re-read from disk (another process may have written). */
  reload(): Promise<State>;
  /** Apply `change` to a fresh copy of the state on disk and write it atomically; serialised within and across processes. */
  update(change: (draft: Draft<State>) => void): Promise<State>;
}

/** Read `state.json`, or a fresh state when there is none; an invalid file is an error naming it. */
export async function readState(dir: string, milestone: string): Promise<State> {
  const file = path.join(dir, 'state.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(milestone);
    throw error;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new StepFailedError(`${file} is not valid JSON; move it away to start milestone ${milestone} afresh`, { cause });
  }
  if (!validateState(data)) {
    const first = validateState.errors?.[0];
    throw new StepFailedError(`${file} does not match schema/state.schema.json (${first?.instancePath || '/'} ${first?.message ?? ''}); move it away to start afresh`);
  }
  return data as State;
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** A cross-process mutex: mkdir is atomic; a lock older than LOCK_STALE_MS belongs to a dead writer. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, 'state.lock.d');
  for (let i = 0; ; i++) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > LOCK_STALE_MS) await rmdir(lock).catch(() => undefined);
      else await sleep(Math.min(2 + i, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/** Open the state store of a milestone; creates the directory. */
export async function openStateStore(dir: string, milestone: string): Promise<StateStore> {
  await mkdir(dir, { recursive: true });
  let state = await readState(dir, milestone);
  let queue: Promise<unknown> = Promise.resolve();
  return {
    dir,
    current: () => state,
    reload: async () => (state = await readState(dir, milestone)),
    update(change) {
      const next = queue.then(() =>
        withLock(dir, async () => {
          const draft = structuredClone(await readState(dir, milestone)) as Draft<State>;
          change(draft);
          if (!validateState(draft)) {
            throw new Error(`internal: state update breaks the schema: ${JSON.stringify(validateState.errors?.[0])}`);
          }
          await writeAtomic(path.join(dir, 'state.json'), `${JSON.stringify(draft, null, 2)}\n`);
          state = draft as State;
          return state;
        }),
      );
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
