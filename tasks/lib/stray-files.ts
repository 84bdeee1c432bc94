/**
 * Files of one name (`.gitignore`, `.gitattributes`) in a worktree's folders that hold tracked files: the tracked ones
 * with their index blobs, and those that are there but not tracked. From the index and the file system: git reads
 * such a file whatever its state (an untracked `.gitignore` that says `*` hides itself from a listing of untracked
 * files; an untracked `.gitattributes` changes how git merges). One in a folder without tracked files speaks only for
 * untracked paths, which the runner neither merges nor lands.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { streamGitLines } from './git-lines.ts';

/** The files named so in a worktree: tracked (path and index blob) and untracked (paths). */
export interface NamedFiles {
  readonly tracked: ReadonlyArray<{ readonly path: string; readonly blob: string }>;
  readonly untracked: readonly string[];
}

/** The files named `name` in `dir`'s folders that hold tracked files (`/`-separated paths from `dir`). */
export async function filesNamed(dir: string, name: string): Promise<NamedFiles> {
  const folders = new Set<string>(['']);
  const tracked: Array<{ path: string; blob: string }> = [];
  await streamGitLines(
    dir,
    ['ls-files', '--stage', '-z'],
    (line) => {
      const match = /^\d+ ([0-9a-f]+) \d\t([\s\S]+)$/.exec(line);
      if (!match) return;
      const file = match[2] as string;
      if (path.posix.basename(file) === name) tracked.push({ path: file, blob: match[1] as string });
      for (let d = path.posix.dirname(file); d !== '.' && !folders.has(d); d = path.posix.dirname(d)) folders.add(d);
    },
    { separator: '\0', lineChars: 1 << 20 },
  );
  const known = new Set(tracked.map((t) => t.path));
  const untracked = [...folders]
    .map((d) => (d ? `${d}/${name}` : name))
    .filter((f) => !known.has(f) && lstatSync(path.join(dir, f), { throwIfNoEntry: false }) !== undefined);
  return { tracked, untracked };
}
