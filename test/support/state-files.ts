/** Reading a milestone's state dir as the runner left it: state.json and events.jsonl. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Anything with a milestone state dir (a TestRepo). */
export interface HasStateDir {
  readonly stateDir: string;
}

/** Parsed state.json (untyped: tests read what the runner wrote, whatever shape it has). */
export function readStateFile(repo: HasStateDir): any {
  return JSON.parse(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'));
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
