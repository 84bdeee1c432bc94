/** A worktree's index as `git ls-files --stage` gives it, and its files compared with it by content. */
import { git } from './git.ts';
import { streamGitLines } from './git-lines.ts';

/** One index entry: mode, blob id, stage (0 unless conflicted) and path (`/`-separated, from the worktree's top). */
export interface IndexEntry {
  readonly mode: string;
  readonly blob: string;
  readonly stage: number;
  readonly path: string;
}

/** Every entry of `dir`'s index, streamed (an index of any size costs one entry at a time to read). */
export async function readIndex(dir: string): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  await streamGitLines(
    dir,
    ['ls-files', '--stage', '-z'],
    (line) => {
      const match = /^(\d+) ([0-9a-f]+) (\d)\t([\s\S]+)$/.exec(line);
      if (match)
        entries.push({
          mode: match[1] as string,
          blob: match[2] as string,
          stage: Number(match[3]),
          path: match[4] as string,
        });
    },
    { separator: '\0', lineChars: 1 << 20 },
  );
  return entries;
}

/**
 * The paths of `entries` whose file's content is not their blob, whatever git's stat cache says: hashed by git with
 * the filters it applies when it compares a file with the index (eol, a trusted clean filter). The caller passes
 * regular files that are there, with no newline in their path (one path per line on `--stdin-paths`).
 */
export async function contentChanged(dir: string, entries: readonly IndexEntry[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const hashes = (
    await git(dir, ['hash-object', '--stdin-paths'], { input: entries.map((e) => `${e.path}\n`).join('') })
  ).split('\n');
  return entries.filter((e, i) => hashes[i] !== e.blob).map((e) => e.path);
}
