/**
 * Changes git's stat cache does not show. `git status` takes a tracked file as unchanged when its size, mtime and
 * ctime (to the second; not ctime with `core.trustctime=false`, only size and mtime with `core.checkStat=minimal`)
 * are what the index recorded, and the index is not older than the file. A process can write a file of the same
 * size, set its mtime back, and have the index refreshed within the same second (or turn those checks off in the
 * config): the edit is then in no status, no diff and no `reset --hard`. Before the gates, the runner compares every
 * tracked file's content with its index entry instead, and makes git see the ones that differ.
 */
import { lstatSync, lutimesSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { git } from '../lib/git.ts';
import { streamGitLines } from '../lib/git-lines.ts';

/** One stage-0 index entry: its mode, blob id and path. */
interface IndexEntry {
  readonly mode: string;
  readonly blob: string;
  readonly path: string;
}

async function indexEntries(dir: string): Promise<IndexEntry[]> {
  const entries: IndexEntry[] = [];
  await streamGitLines(
    dir,
    ['ls-files', '--stage', '-z'],
    (line) => {
      // `<mode> <blob> <stage>\t<path>`; a conflicted path (stage 1–3) is not a file the gates read as merged.
      const match = /^(\d+) ([0-9a-f]+) 0\t([\s\S]+)$/.exec(line);
      if (match) entries.push({ mode: match[1] as string, blob: match[2] as string, path: match[3] as string });
    },
    { separator: '\0', lineChars: 1 << 20 },
  );
  return entries;
}

/**
 * Tracked files in `dir` whose content is not their index entry's blob although git may take them as unchanged: their
 * mtime is set to now, so that the next `git status` hashes them and sees the change. Symbolic links are always given
 * a new mtime (their target is compared by git then). Returns the files found changed.
 */
export async function exposeChangesBehindStat(dir: string): Promise<readonly string[]> {
  const entries = await indexEntries(dir);
  const now = new Date();
  const files: IndexEntry[] = [];
  for (const e of entries) {
    const stat = lstatSync(path.join(dir, e.path), { throwIfNoEntry: false });
    // Missing or replaced by another kind of file: git sees that from the stat alone.
    if (!stat) continue;
    if (e.mode === '120000' && stat.isSymbolicLink()) lutimesSync(path.join(dir, e.path), now, now);
    // A path with a newline cannot go through --stdin-paths: its mtime is set anyway.
    else if ((e.mode === '100644' || e.mode === '100755') && stat.isFile()) {
      if (e.path.includes('\n')) utimesSync(path.join(dir, e.path), now, now);
      else files.push(e);
    }
  }
  if (files.length === 0) return [];
  // The same filters (eol, a trusted clean filter) as git applies when it compares a file with the index.
  const hashes = (
    await git(dir, ['hash-object', '--stdin-paths'], { input: files.map((f) => `${f.path}\n`).join('') })
  ).split('\n');
  const changed = files.filter((f, i) => hashes[i] !== f.blob).map((f) => f.path);
  for (const file of changed) utimesSync(path.join(dir, file), now, now);
  return changed;
}
