/**
 * Writing files that readers and crashes never see half-written: replace one atomically, or create one only if it is
 * absent. The one implementation of both; every writer of a shared or crash-sensitive file uses it.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, open, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isCode } from './fs-paths.ts';
import { readRegularFile } from './regular-file.ts';

/**
 * A fresh temp path beside `file` (same directory, so a rename or link never crosses file systems). Hidden and ending
 * in `.tmp`, so folder listings that skip dot files (the file backlog) never take one for content.
 */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomUUID()}.tmp`);
}

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /**
   * Sync the data to disk before the rename (the default). Off only for files git commits right after (the file
   * backlog's status lines): git does not sync what it commits either, and a run after a crash writes them again.
   */
  readonly sync?: boolean;
}

/**
 * Replace `file` with `data` so that a reader (or a crash) sees the old or the new content, never a part: written to
 * a temp file, synced to disk, then renamed over `file`. An existing file's mode is kept. On any failure the temp file
 * is removed and `file` is left as it was.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = await stat(file).then(
    (s) => s.mode & 0o7777,
    (e: unknown) => (isCode(e, 'ENOENT') ? undefined : Promise.reject(e)),
  );
  const tmp = tempPathFor(file);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      // Without the sync a crash soon after the rename can leave `file` empty on some file systems (ext4 delalloc).
      if (options.sync !== false) await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

/**
 * Create `file` holding `data` only if it does not exist: true when created, false when it existed. A complete temp
 * file is hard-linked to `file`, so no reader ever sees it empty or partial (an `open(…, 'wx')` then write would
 * show an empty file for a moment: a lock file read then looks ownerless). Not synced: what is created this way
 * (locks, new backlog items) is either worthless after a crash or committed soon after.
 */
export async function createFileExclusive(file: string, data: string | Uint8Array): Promise<boolean> {
  const tmp = tempPathFor(file);
  try {
    // In the try: a write that fails part-way (a full disk) leaves a temp file to remove.
    await writeFile(tmp, data, { flag: 'wx' });
    await link(tmp, file);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    // File systems without hard links: an exclusive create, complete only once the write returns.
    if (!isCode(error, 'EPERM', 'ENOTSUP', 'ENOSYS')) throw error;
    const handle = await open(file, 'wx').catch((e: unknown) => (isCode(e, 'EEXIST') ? null : Promise.reject(e)));
    if (!handle) return false;
    try {
      await handle.writeFile(data);
    } catch (e) {
      // Created by this call, so removed by it: a partial lock or item file would be read as someone's.
      await handle.close().catch(() => undefined);
      await unlink(file).catch(() => undefined);
      throw e;
    }
    await handle.close();
    return true;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** `createFileExclusive` for synchronous callers (lock files taken in exit handlers and tight retry loops). */
export function createFileExclusiveSync(file: string, data: string | Uint8Array): boolean {
  const tmp = tempPathFor(file);
  try {
    writeFileSync(tmp, data, { flag: 'wx' });
    linkSync(tmp, file);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    if (!isCode(error, 'EPERM', 'ENOTSUP', 'ENOSYS')) throw error;
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if (isCode(e, 'EEXIST')) return false;
      throw e;
    }
    try {
      writeFileSync(fd, data);
    } catch (e) {
      // Created by this call, so removed by it (see createFileExclusive).
      closeSync(fd);
      unlinkSync(file);
      throw e;
    }
    closeSync(fd);
    return true;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

/**
 * A JSON object the runner keeps in a file of its own, when it has every field of `objectFields` as an object; null
 * when the file is missing, unreadable or of another shape (the caller then starts afresh).
 */
export async function readJsonRecord<T>(file: string, objectFields: readonly string[]): Promise<T | null> {
  try {
    const data = JSON.parse(await readRegularFile(file)) as Record<string, unknown> | null;
    return data && objectFields.every((f) => typeof data[f] === 'object' && data[f] !== null) ? (data as T) : null;
  } catch {
    return null;
  }
}
