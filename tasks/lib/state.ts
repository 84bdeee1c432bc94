/** The one module that reads and writes `state.json` (DESIGN §7): validated on read, written atomically. */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StepFailedError } from './errors.ts';
import { currentOwner, tryLockFile } from './run-lock.ts';
import { loadSchema } from './schema-check.ts';
import { emptyState, type State } from './state-types.ts';

const validateState = loadSchema('state.schema.json');

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

/** Read `state.json`, or a fresh state when there is none; an unreadable or invalid file is one sentence naming it. */
export async function readState(dir: string, milestone: string): Promise<State> {
  const file = path.join(dir, 'state.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return emptyState(milestone);
    throw new StepFailedError(`cannot read ${file} (${code ?? (error as Error).message})`, { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    const detail = text.trim() === '' ? 'it is empty' : (cause as Error).message;
    throw new StepFailedError(`${file} is not valid JSON (${detail}); move it away to start milestone ${milestone} afresh`, { cause });
  }
  if (!validateState(data)) {
    const first = validateState.errors?.[0];
    const where = first?.instancePath || '/';
    throw new StepFailedError(`${file} does not match schema/state.schema.json (${where} ${first?.message ?? 'is invalid'}); move it away to start milestone ${milestone} afresh`);
  }
  const state = data as State;
  if (state.milestone !== milestone) {
    throw new StepFailedError(`${file} holds the state of milestone ${state.milestone}, not ${milestone}; move it away to start milestone ${milestone} afresh`);
  }
  return state;
}

/** Write `file` so that a reader sees the old or the new text, never a part: a synced temp file renamed over it. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/** A cross-process mutex on `state.lock` (pid + start time): a live holder is waited for, however slow; a dead one's lock is removed. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const owner = currentOwner('state update');
  let lock = tryLockFile(path.join(dir, 'state.lock'), owner);
  for (let i = 0; lock.kind === 'held'; i++) {
    await sleep(Math.min(1 + i, 20));
    lock = tryLockFile(path.join(dir, 'state.lock'), owner);
  }
  try {
    return await fn();
  } finally {
    lock.release();
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
