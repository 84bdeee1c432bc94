/** Reading a milestone's state dir as the runner left it: state.json and events.jsonl. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { applyJournal, parseJournal, STATE_JOURNAL, stateTag } from '../../tasks/lib/state-journal.ts';

/** Anything with a milestone state dir (a TestRepo). */
export interface HasStateDir {
  readonly stateDir: string;
}

/**
 * Parsed state.json with the journal of items and records written since on top, as the runner reads them (untyped:
 * tests read what the runner wrote, whatever shape it has). Lines cut short or written on top of an older state.json
 * are left out, as the runner does.
 */
export function readStateFile(repo: HasStateDir): any {
  // The journal first, as the runner reads them: a whole write in between cannot pair the older file with no journal.
  const journalFile = path.join(repo.stateDir, STATE_JOURNAL);
  let journal = '';
  try {
    journal = readFileSync(journalFile, 'utf8');
  } catch {
    // None: state.json holds everything.
  }
  const text = readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8');
  return applyJournal(JSON.parse(text), parseJournal(journal, stateTag(text)), () => true);
}

/** Whether state.json, as it is now, records a handle with `field` (`runId`, `job`) for each of `issues`. */
export function handlesRecorded(repo: HasStateDir, field: string, issues: readonly number[] = [1, 2]): boolean {
  try {
    const items = readStateFile(repo).items;
    return issues.every((issue) => Boolean(items[String(issue)]?.handle?.[field]));
  } catch {
    // Not written yet, or being replaced this moment.
    return false;
  }
}

/** Parsed events.jsonl (none when it does not exist). */
export function readEvents(repo: HasStateDir): any[] {
  const file = path.join(repo.stateDir, 'events.jsonl');
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
}

/** The state dir of milestone `milestone` in the repository at `dir`. */
export function stateDirOf(dir: string, milestone: number | string): string {
  return path.join(dir, '.git', 'work-milestone', `milestone-${milestone}`);
}
