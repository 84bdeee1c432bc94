/**
 * Writing the runner's own files (events.jsonl, the state journal, gate logs, prompts, results, relays, report.md)
 * where an agent can reach them: agents run as the runner's user, and one that puts a named pipe where such a file
 * goes would make the runner's open for writing wait for a reader for ever (a synchronous one stops the whole runner,
 * signals included). These open without blocking and write regular files only. Whatever else is there (a pipe, a
 * device) is removed and the file made anew: the file is the runner's, and what replaced it holds none of it. A
 * folder removed is made again.
 */
import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  mkdirSync,
  openSync,
  unlinkSync,
  writeFile,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { isCode } from './fs-paths.ts';
import { notRegular } from './regular-file.ts';

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | (constants.O_NONBLOCK ?? 0);

/**
 * A descriptor of `file` open for writing at its end (`O_APPEND`), kept (`append`) or emptied first (`truncate`),
 * once it is a regular file; throws ENOTREG when what is there cannot be removed (a folder), or as `openSync` does.
 * Every write goes to the end: a file the runner cuts to a limit while a writer still holds it (a process a gate
 * left running) grows from the cut, not past a hole at the writer's old offset.
 */
export function openOwnFileSync(file: string, how: 'append' | 'truncate'): number {
  const flags = WRITE_FLAGS | constants.O_APPEND | (how === 'truncate' ? constants.O_TRUNC : 0);
  for (let attempt = 1; ; attempt++) {
    let problem: unknown;
    try {
      const fd = openSync(file, flags);
      if (fstatSync(fd).isFile()) return fd;
      // A pipe somebody reads, a device: not the runner's file.
      closeSync(fd);
      problem = notRegular(file);
    } catch (error) {
      // ENOENT: its folder removed (O_CREAT makes a missing file); ENXIO: a pipe nobody reads; EISDIR: a folder.
      if (!isCode(error, 'ENOENT', 'ENXIO', 'EISDIR')) throw error;
      problem = error;
    }
    // A removal under way may take what was just made again: a few tries.
    if (attempt >= 3) throw isCode(problem, 'ENOENT') ? problem : notRegular(file);
    // The folder (the state folder, removed by an agent) is made again: the runner's state is in memory.
    if (isCode(problem, 'ENOENT')) ensureFolderSync(path.dirname(file));
    else {
      try {
        unlinkSync(file);
      } catch {
        throw notRegular(file);
      }
    }
  }
}

/**
 * Make `dir` and its parents when missing. A removal of them under way at the same moment (`rm -rf` by an agent) can
 * take a parent just made: tried again then.
 */
export function ensureFolderSync(dir: string): void {
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(dir, { recursive: true });
      return;
    } catch (error) {
      if (!isCode(error, 'ENOENT') || attempt >= 5) throw error;
    }
  }
}

/** Append `text` to `file` (one write with O_APPEND: lines of concurrent writers never interleave). */
export function appendOwnFileSync(file: string, text: string): void {
  const fd = openOwnFileSync(file, 'append');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const writeFd = promisify(writeFile);
const syncFd = promisify(fdatasync);

/** Append `text` to `file` without blocking the loop, synced to disk before it returns (the state journal). */
export async function appendOwnFileSynced(file: string, text: string): Promise<void> {
  const fd = openOwnFileSync(file, 'append');
  try {
    await writeFd(fd, text);
    await syncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace the content of `file` with `data` (not atomic: for files read only after the write ended). */
export async function writeOwnFile(file: string, data: string | Uint8Array): Promise<void> {
  const fd = openOwnFileSync(file, 'truncate');
  try {
    await writeFd(fd, data);
  } finally {
    closeSync(fd);
  }
}
