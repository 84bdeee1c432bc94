/** Reading a milestone's state dir as the runner left it: state.json and events.jsonl. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Anything with a milestone state dir (a TestRepo). */
export interface HasStateDir {
  readonly stateDir: string;
}

/**
 * Parsed state.json with the journal of items and records written since on top, as the runner reads them (untyped: tests read
 * what the runner wrote, whatever shape it has). A line cut short by a crash is left out, as the runner does.
 */
export function readStateFile(repo: HasStateDir): any {
  const text = readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8');
  const state = JSON.parse(text);
  const journal = path.join(repo.stateDir, 'state.journal');
  if (!existsSync(journal)) return state;
  // The tag journal lines name (the runner's stateTag, computed here on its own).
  const tag = createHash('sha1').update(text).digest('hex').slice(0, 16);
  for (const line of readFileSync(journal, 'utf8').split('\n')) {
    let entry: { on: string; issue?: string; item?: unknown; key?: string; value?: unknown } | undefined;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry?.on !== tag) continue;
    if (typeof entry.issue === 'string') {
      if (entry.item === null) delete state.items[entry.issue];
      else state.items[entry.issue] = entry.item;
    } else if (typeof entry.key === 'string') {
      if (entry.value === undefined) delete state[entry.key];
      else state[entry.key] = entry.value;
    }
  }
  return state;
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
