/**
 * The one module that reads and writes `state.json` (docs/state.md): validated on read, written atomically. Under the
 * run lock the runner's store keeps the state in memory and writes it behind (`writeBehindMs`): at once for what a
 * crash must not lose, otherwise on a short tick and at `flush()` (docs/performance.md).
 */
import { writeFileAtomic } from './atomic-file.ts';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { StepFailedError } from './errors.ts';
import { fileStamp, isCode } from './fs-paths.ts';
import { ensureFolderSync } from './own-file.ts';
import { currentOwner, waitForLockFile } from './run-lock.ts';
import { loadSchema } from './schema-check.ts';
import { draftState } from './state-draft.ts';
import {
  appendJournal,
  applyJournal,
  formatJournalLine,
  parseJournal,
  readJournal,
  STATE_JOURNAL,
  stateTag,
  type JournalEntry,
} from './state-journal.ts';
import { emptyState, type State } from './state-types.ts';
import { readRegularFile } from './regular-file.ts';

const validateState = loadSchema('state.schema.json');

/** A deep mutable copy of a read-only type, for update functions. */
export type Draft<T> =
  T extends ReadonlyArray<infer U>
    ? ReadonlyArray<Draft<U>>
    : T extends object
      ? { -readonly [K in keyof T]: Draft<T[K]> }
      : T;

/** State of one milestone, shared by the steps of one runner; every update is read-modify-write under a lock. */
export interface StateStore {
  readonly dir: string;
  /** The state as last read or written. */
  current(): State;
  /** Re-read from disk (another process may have written). */
  reload(): Promise<State>;
  /**
   * Apply `change` to a copy of the state and write it atomically; serialised within and across processes. In
   * write-behind mode the copy is of the state in memory, and the write waits for the tick unless the change is
   * durable (`options.durable`, or it touches what a crash must not lose: lib/state-draft.ts).
   */
  update(change: (draft: Draft<State>) => void, options?: UpdateOptions): Promise<State>;
  /** Write what is not written yet (write-behind mode; otherwise everything is written already) and stop the tick. */
  flush(): Promise<void>;
  /** How a missing or unusable state.json was replaced when the store was opened (null: it was read as it is). */
  readonly healed?: HealedState | null;
}

/** How one update is written. */
export interface UpdateOptions {
  /** Written before update() resolves, whatever it changed. */
  readonly durable?: boolean;
}

/** `state.json` cannot be used: unreadable, not JSON, not matching the schema, or another milestone's. */
export class UnreadableStateError extends StepFailedError {
  constructor(
    readonly file: string,
    /** What is wrong with it, as a clause after the file name (`is not valid JSON (it is empty)`). */
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file} ${problem}`, options);
  }
}

/** The error for a state file that exists but cannot be read (a folder or a pipe in its place, no permission). */
function cannotRead(file: string, error: unknown): UnreadableStateError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'ENOTREG' ? 'not a regular file' : (code ?? (error as Error).message);
  return new UnreadableStateError(file, `cannot be read (${why})`, { cause: error });
}

/**
 * The last state written, kept beside `state.json` (a second copy, its own inode): what a clobbered state.json is
 * restored from.
 */
export const STATE_BACKUP = 'state.json.bak';

/** A state file as read: the state (with the journal on top), the tag of its text, whether journal lines applied. */
interface StateFile {
  readonly state: State;
  readonly tag: string;
  readonly replayed: boolean;
}

/**
 * Parse and validate one state file (state.json or its backup, which hold the same text) and apply the journal lines
 * of `dir` written on top of it (lines that break the schema are left out); undefined when it does not exist.
 */
async function readStateFile(dir: string, file: string, milestone: string): Promise<StateFile | undefined> {
  // The journal before the file: a whole write between the two reads then leaves lines tagged for the older file,
  // skipped, beside the newer file that holds them. The other order could pair the older file with no journal.
  const journal = await readJournal(dir).catch((error: unknown) => {
    throw cannotRead(path.join(dir, STATE_JOURNAL), error);
  });
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cannotRead(file, error);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    const detail = text.trim() === '' ? 'it is empty' : (cause as Error).message;
    throw new UnreadableStateError(file, `is not valid JSON (${detail})`, { cause });
  }
  if (!validateState(data)) {
    const first = validateState.errors?.[0];
    const where = first?.instancePath || '/';
    throw new UnreadableStateError(
      file,
      `does not match schema/state.schema.json (${where} ${first?.message ?? 'is invalid'})`,
    );
  }
  const state = data as State;
  if (state.milestone !== milestone)
    throw new UnreadableStateError(file, `holds the state of milestone ${state.milestone}, not ${milestone}`);
  const tag = stateTag(text);
  const entries = parseJournal(journal, tag);
  if (entries.length === 0) return { state, tag, replayed: false };
  return { state: applyJournal(state, entries, (s) => validateState(s)), tag, replayed: true };
}

/** Read `state.json`, or a fresh state when there is none; an unusable file is an UnreadableStateError naming it. */
export async function readState(dir: string, milestone: string): Promise<State> {
  return (await readStateFile(dir, path.join(dir, 'state.json'), milestone))?.state ?? emptyState(milestone);
}

/** The longest wait for `state.lock`: a write holds it for milliseconds, a busy machine's for a second or two. */
const STATE_LOCK_WAIT_MS = 60_000;

/**
 * A cross-process mutex on `state.lock` (pid + start time): a live holder is waited for, up to a minute; a dead one's
 * lock is removed. The folder is made when it is missing (removed meanwhile: the state in memory goes back).
 */
async function withLock<T>(dir: string, fn: () => Promise<T>, onBusy?: (tries: number) => void): Promise<T> {
  ensureFolderSync(dir);
  const lock = await waitForLockFile(path.join(dir, 'state.lock'), currentOwner('state update'), {
    onBusy,
    maxWaitMs: STATE_LOCK_WAIT_MS,
    heldFor: 'a state write holds it for milliseconds',
    pauseMs: (i) => Math.min(1 + i, 20),
  });
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * A whole write or a journal append of the run's store, done again when the state folder was removed under it (an
 * agent runs as the same user, and its `rm -rf` takes a moment): `withLock` makes the folder again, and each write is
 * whole (a state file, or journal lines not appended yet).
 */
async function againIfRemoved<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isCode(error, 'ENOENT') || attempt >= 5) throw error;
    }
  }
}

/** How an unusable `state.json` was replaced. */
export interface HealedState {
  /**
   * What was wrong with state.json (`… is not valid JSON (…)`), or that it was missing beside the milestone's files.
   */
  readonly problem: string;
  /** Restored from the backup copy, or rebuilt from the milestone's files and git. */
  readonly from: 'backup' | 'rebuilt';
  /**
   * Where the unusable file was moved (kept for a human); null when nothing was written (read-only) or there was none.
   */
  readonly keptAs: string | null;
}

/** How a store is opened. */
export interface StoreOptions {
  /**
   * Rebuild the state from what is on disk, for a `state.json` that cannot be used and has no usable backup. Without
   * it such a file is an UnreadableStateError.
   */
  readonly rebuild?: (problem: string) => Promise<State>;
  /** Read only (`--dry-run`, status): nothing is created or written; a healed state lives in memory only. */
  readonly readOnly?: boolean;
  /**
   * Write-behind (only for the holder of the run lock, the one writer): the state stays in memory, updates are not
   * read back from disk, and what is not durable is written at most this many ms later (or at `flush()`).
   */
  readonly writeBehindMs?: number;
  /** Told each time an update finds `state.lock` held by a live process and waits (tests observe the waiting). */
  readonly onLockBusy?: (tries: number) => void;
}

/**
 * A state that can be used instead of a missing or unusable `state.json`, or null when state.json is fine (or rightly
 * absent).
 */
async function healedState(
  dir: string,
  milestone: string,
  options: StoreOptions,
): Promise<{ state: State; healed: Omit<HealedState, 'keptAs'> | null; replayed?: boolean; tag?: string } | null> {
  const file = path.join(dir, 'state.json');
  let problem: string;
  try {
    // Read and validated once: the state found is the one used (with the journal written since on top).
    const found = await readStateFile(dir, file, milestone);
    if (found !== undefined) return { ...found, healed: null };
    // No state.json beside the files of a milestone that ran (events, a backup): it was lost, not never written.
    if (!existsSync(path.join(dir, STATE_BACKUP)) && !existsSync(path.join(dir, 'events.jsonl'))) return null;
    problem = `${file} is missing`;
  } catch (error) {
    if (!(error instanceof UnreadableStateError)) throw error;
    problem = error.message;
  }
  const backup = await readStateFile(dir, path.join(dir, STATE_BACKUP), milestone).catch(() => undefined);
  if (backup) return { state: backup.state, healed: { problem, from: 'backup' } };
  if (!options.rebuild) throw new UnreadableStateError(file, problem.slice(file.length + 1));
  let rebuilt: State;
  try {
    rebuilt = await options.rebuild(problem);
  } catch (cause) {
    throw new UnreadableStateError(
      file,
      `${problem.slice(file.length + 1)}, and rebuilding it from the milestone's files failed (${(cause as Error).message})`,
      { cause },
    );
  }
  if (!validateState(rebuilt))
    throw new Error(`internal: the rebuilt state breaks the schema: ${JSON.stringify(validateState.errors?.[0])}`);
  return { state: rebuilt, healed: { problem, from: 'rebuilt' } };
}

/**
 * The state on disk for an update: state.json, or its backup when state.json was clobbered while this runner held it.
 */
async function readForUpdate(dir: string, milestone: string): Promise<State> {
  try {
    return await readState(dir, milestone);
  } catch (error) {
    if (!(error instanceof UnreadableStateError)) throw error;
    const backup = await readStateFile(dir, path.join(dir, STATE_BACKUP), milestone).catch(() => undefined);
    if (!backup) throw error;
    return backup.state;
  }
}

/** The text of state.json: one line of JSON (indentation alone made a 500-item milestone's file 1.5 times larger). */
export function formatState(state: State): string {
  return `${JSON.stringify(state)}\n`;
}

/** What a whole write put in state.json: the tag journal lines go on top of, and its size. */
interface WrittenState {
  readonly tag: string;
  readonly bytes: number;
}

/**
 * Write `state` as state.json and its backup (backup first: the backup is never older than state.json); the journal
 * goes once both hold it.
 */
async function writeState(dir: string, state: State): Promise<WrittenState> {
  const text = formatState(state);
  await writeFileAtomic(path.join(dir, STATE_BACKUP), text);
  await writeFileAtomic(path.join(dir, 'state.json'), text);
  await rm(path.join(dir, STATE_JOURNAL), { force: true });
  return { tag: stateTag(text), bytes: Buffer.byteLength(text) };
}

/**
 * Open the state store of a milestone; creates the directory. A `state.json` that cannot be used (or is missing beside
 * the files of a milestone that ran) is replaced by its backup, else by `options.rebuild`; the unusable file is kept
 * as `state.json.unreadable-<time>`. `healed` says what happened.
 */
export async function openStateStore(dir: string, milestone: string, options: StoreOptions = {}): Promise<StateStore> {
  if (!options.readOnly) await mkdir(dir, { recursive: true });
  let healed: HealedState | null = null;
  let state: State;
  // The tag of the state.json on disk once opened (null: there is none yet).
  let tag: string | null = null;
  if (options.readOnly) {
    const found = existsSync(dir) ? await healedState(dir, milestone, options) : null;
    state = found?.state ?? emptyState(milestone);
    healed = found?.healed ? { ...found.healed, keptAs: null } : null;
  } else {
    // Under the lock, so two runners (a `run` and a `status`…) never heal at once; the file is judged again there.
    state = await withLock(dir, async () => {
      const found = await healedState(dir, milestone, options);
      if (!found) return emptyState(milestone);
      if (!found.healed) {
        // A journal left by a runner that stopped: folded into state.json now.
        tag = found.replayed ? (await writeState(dir, found.state)).tag : (found.tag ?? null);
        return found.state;
      }
      const file = path.join(dir, 'state.json');
      let keptAs: string | null = `${file}.unreadable-${fileStamp()}`;
      try {
        await rename(file, keptAs);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        keptAs = null;
      }
      tag = (await writeState(dir, found.state)).tag;
      healed = { ...found.healed, keptAs };
      return found.state;
    });
  }
  if (options.writeBehindMs !== undefined && !options.readOnly)
    return writeBehindStore(dir, { state, tag }, healed, options.writeBehindMs);
  let queue: Promise<unknown> = Promise.resolve();
  return {
    dir,
    healed,
    current: () => state,
    reload: async () => (options.readOnly ? state : (state = await readState(dir, milestone))),
    update(change) {
      if (options.readOnly)
        return Promise.reject(new Error('internal: a read-only state store (--dry-run) was asked to write'));
      const next = queue.then(() =>
        withLock(
          dir,
          async () => {
            const draft = structuredClone(await readForUpdate(dir, milestone)) as Draft<State>;
            change(draft);
            if (!validateState(draft)) {
              throw new Error(`internal: state update breaks the schema: ${JSON.stringify(validateState.errors?.[0])}`);
            }
            await writeState(dir, draft as State);
            state = draft as State;
            return state;
          },
          options.onLockBusy,
        ),
      );
      queue = next.catch(() => undefined);
      return next;
    },
    // Every update was written before it resolved.
    flush: () => queue.then(() => undefined),
  };
}

/** Journal bytes that never make a whole write by themselves (below this, appending always beats rewriting). */
const JOURNAL_MIN_BYTES = 64 * 1024;

/**
 * The run's store: the state lives in memory (no re-read, no clone of what an update does not touch, no schema check
 * per update). A durable change (of a top-level record, or of an item's durable part) is appended to the journal at
 * once and synced: the records and items it changed, as they are then. State.json is written whole (validated,
 * compact, atomic, backup first; the journal then removed) on a tick after a change the journal does not hold, at
 * `flush()`, for `{durable: true}`, when there is no state.json yet, and when the journal has grown past the size of
 * state.json (so the bytes written stay linear in the changes). One write at a time; changes made while one is under
 * way share the next.
 */
function writeBehindStore(
  dir: string,
  initial: { readonly state: State; readonly tag: string | null },
  healed: HealedState | null,
  tickMs: number,
): StateStore {
  let state = initial.state;
  // The tag of state.json as this store last wrote (or found) it: what journal lines go on top of.
  let tag = initial.tag;
  // Bytes of the last whole write (0: unknown yet) and of the journal lines on top of it.
  let wholeBytes = 0;
  let journalBytes = 0;
  let version = 0;
  let written = 0;
  let tick: NodeJS.Timeout | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  // Writes never overlap: a journal append and a whole write each wait for the one before.
  let io: Promise<unknown> = Promise.resolve();
  const exclusive = (fn: () => Promise<void>): Promise<void> => {
    const p = io.then(fn);
    io = p.catch(() => undefined);
    return p;
  };
  const writeNow = async (): Promise<void> => {
    const [snapshot, at] = [state, version];
    if (!validateState(snapshot))
      throw new Error(`internal: state update breaks the schema: ${JSON.stringify(validateState.errors?.[0])}`);
    // The journal goes with it: everything it holds is in memory, so in this snapshot.
    const done = await againIfRemoved(() => withLock(dir, () => writeState(dir, snapshot)));
    [tag, wholeBytes, journalBytes] = [done.tag, done.bytes, 0];
    written = Math.max(written, at);
  };
  let whole: Promise<void> | null = null;
  const writeWhole = (): Promise<void> =>
    (whole ??= exclusive(async () => {
      whole = null;
      await writeNow();
    }));
  const items = new Set<string>();
  const records = new Set<string>();
  let append: Promise<void> | null = null;
  const journal = (issues: readonly string[], keys: readonly string[]): Promise<void> => {
    for (const issue of issues) items.add(issue);
    for (const key of keys) records.add(key);
    return (append ??= exclusive(async () => {
      append = null;
      const entries: JournalEntry[] = [
        ...[...records].map((key): JournalEntry => ({ kind: 'record', key, value: stateRecord(state, key) })),
        ...[...items].map((issue): JournalEntry => ({ kind: 'item', issue, item: state.items[issue] })),
      ];
      items.clear();
      records.clear();
      const on = tag;
      // Lines go on top of the state.json they name: gone (its folder removed), the whole state is written again.
      const base = existsSync(path.join(dir, 'state.json'));
      if (on === null || !base || journalBytes > Math.max(wholeBytes, JOURNAL_MIN_BYTES)) return writeNow();
      const text = entries.map((entry) => formatJournalLine(on, entry)).join('');
      await againIfRemoved(() => withLock(dir, () => appendJournal(dir, text)));
      journalBytes += Buffer.byteLength(text);
    }));
  };
  const flush = async (): Promise<void> => {
    if (tick) clearTimeout(tick);
    tick = null;
    const wanted = version;
    while (written < wanted) await writeWhole();
  };
  const schedule = (): void => {
    // The tick keeps the process alive until it has written: a run that ends without flush() still saves its state.
    tick ??= setTimeout(() => {
      tick = null;
      flush().catch(() => undefined);
    }, tickMs);
  };
  return {
    dir,
    healed,
    current: () => state,
    reload: async () => state,
    update(change, updateOptions = {}) {
      const applied = queue.then(() => {
        const { draft, finish } = draftState(state);
        change(draft as Draft<State>);
        const done = finish();
        state = done.state;
        version += 1;
        return done;
      });
      queue = applied.catch(() => undefined);
      // The write is awaited outside the queue, so updates made meanwhile are applied and share the next write.
      return applied.then(async (done) => {
        if (updateOptions.durable === true) await flush();
        else {
          if (done.durable) await journal(done.durableItems, done.changedKeys);
          if (done.deferred) schedule();
        }
        return done.state;
      });
    },
    flush: () => queue.then(flush),
  };
}

/** The top-level record `key` of `state` (undefined: it is not set). */
function stateRecord(state: State, key: string): unknown {
  return (state as unknown as Record<string, unknown>)[key];
}
