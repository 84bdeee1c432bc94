/**
 * Files of one name (`.gitignore`, `.gitattributes`) in a worktree's folders that hold tracked files: the tracked ones
 * with their index blobs, and those that are there but not tracked. From the index and the file system: git reads
 * such a file whatever its state (an untracked `.gitignore` that says `*` hides itself from a listing of untracked
 * files; an untracked `.gitattributes` changes how git merges). One in a folder without tracked files speaks only for
 * untracked paths, which the runner neither merges nor lands.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { readIndex, type IndexEntry } from './git-index.ts';

/** The files named so in a worktree: tracked (their index entries) and untracked (paths). */
export interface NamedFiles {
  readonly tracked: readonly IndexEntry[];
  readonly untracked: readonly string[];
}

/** The files named `name` in `dir`'s folders that hold tracked files (`/`-separated paths from `dir`). */
export async function filesNamed(dir: string, name: string): Promise<NamedFiles> {
  const folders = new Set<string>(['']);
  const tracked: IndexEntry[] = [];
  for (const entry of await readIndex(dir)) {
    if (path.posix.basename(entry.path) === name) tracked.push(entry);
    for (let d = path.posix.dirname(entry.path); d !== '.' && !folders.has(d); d = path.posix.dirname(d))
      folders.add(d);
  }
  const known = new Set(tracked.map((t) => t.path));
  const untracked = [...folders]
    .map((d) => (d ? `${d}/${name}` : name))
    .filter((f) => !known.has(f) && lstatSync(path.join(dir, f), { throwIfNoEntry: false }) !== undefined);
  return { tracked, untracked };
}
