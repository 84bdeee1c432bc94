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
import { contentChanged, readIndex, type IndexEntry } from '../lib/git-index.ts';

/**
 * Tracked files in `dir` whose content is not their index entry's blob although git may take them as unchanged: their
 * mtime is set to now, so that the next `git status` hashes them and sees the change. Symbolic links are always given
 * a new mtime (their target is compared by git then). Returns the files found changed.
 */
export async function exposeChangesBehindStat(dir: string): Promise<readonly string[]> {
  // A conflicted path (stage 1–3) is not a file the gates read as merged.
  const entries = (await readIndex(dir)).filter((e) => e.stage === 0);
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
  const changed = await contentChanged(dir, files);
  for (const file of changed) utimesSync(path.join(dir, file), now, now);
  return changed;
}
