/**
 * Reading a file that someone else may have replaced. Agents run as the runner's user and can put a named pipe, a
 * device or a folder where the runner expects a file (a ref, a worktree's HEAD, state.json). A blocking open of a
 * pipe without a writer never returns, and with a synchronous read the whole runner waits; these reads open without
 * blocking and read regular files only: anything else fails at once, as a file that cannot be read.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

const HASH_CHUNK_BYTES = 1024 * 1024;
const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** The error for a path that is not a regular file; its code says so (`ENOTREG`, not an errno of the system). */
export function notRegular(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTREG', path: file });
}

/** The whole of `file` as UTF-8, when it is a regular file; throws as readFileSync does (ENOENT, …) or ENOTREG. */
export function readRegularFileSync(file: string): string {
  return readRegularFileBytesSync(file).toString('utf8');
}

/** The whole of `file` as bytes, when it is a regular file (as `readRegularFileSync`). */
export function readRegularFileBytesSync(file: string): Buffer {
  const fd = openSync(file, FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The first `bytes` of `file` as UTF-8, when it is a regular file (as `readRegularFileSync`). */
export function readRegularFileHeadSync(file: string, bytes: number): string {
  const fd = openSync(file, FLAGS);
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** The whole of `file` as UTF-8, when it is a regular file (as `readRegularFileSync`, without blocking the loop). */
export async function readRegularFile(file: string): Promise<string> {
  const handle = await open(file, FLAGS);
  try {
    if (!(await handle.stat()).isFile()) throw notRegular(file);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * The sha256 (hex) of `file` and its mode, read in 1 MiB chunks (a file of gigabytes costs no memory), when it is a
 * regular file (as `readRegularFileSync`).
 */
export function hashRegularFileSync(file: string): { readonly sha256: string; readonly mode: number } {
  const fd = openSync(file, FLAGS);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw notRegular(file);
    const digest = createHash('sha256');
    // Sized to the file (a hook is a few KiB), at most 1 MiB: zero-filling 1 MiB per small file cost more than hashing.
    const buffer = Buffer.allocUnsafe(Math.min(HASH_CHUNK_BYTES, stat.size + 1));
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) digest.update(buffer.subarray(0, n));
    return { sha256: digest.digest('hex'), mode: stat.mode };
  } finally {
    closeSync(fd);
  }
}
