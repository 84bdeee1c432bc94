/** The plans a repository holds: `plan/milestone-<N>-dispatch.yaml`. */
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** One plan file found in `plan/`. */
export interface PlanFile {
  /** The milestone id of its name (`7`, `v1.2`). */
  readonly milestone: string;
  /** Its path relative to the repository (`plan/milestone-7-dispatch.yaml`). */
  readonly file: string;
}

/** Plans in `<repo>/plan/`, numbers in numeric order then other ids; none when the folder is missing. */
export function findPlanFiles(repo: string): PlanFile[] {
  let names: string[];
  try {
    names = readdirSync(path.join(repo, 'plan'));
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, milestone: /^milestone-(.+)-dispatch\.yaml$/.exec(name)?.[1] }))
    .filter((e): e is { name: string; milestone: string } => e.milestone !== undefined)
    .map((e) => ({ milestone: e.milestone, file: `plan/${e.name}` }))
    .sort((a, b) => {
      const [x, y] = [Number(a.milestone), Number(b.milestone)];
      if (Number.isInteger(x) && Number.isInteger(y)) return x - y;
      return Number.isInteger(x) ? -1 : Number.isInteger(y) ? 1 : a.milestone.localeCompare(b.milestone);
    });
}

/** `; the plans in plan/ are for milestones 7, 8` (or that there is none), for a plan file that is missing. */
export function existingPlansText(repo: string): string {
  const found = findPlanFiles(repo);
  if (found.length === 0) return '; plan/ holds no plan (plan/milestone-<N>-dispatch.yaml)';
  const which = found.map((p) => p.milestone).join(', ');
  return found.length === 1
    ? `; the only plan in plan/ is for milestone ${which}`
    : `; the plans in plan/ are for milestones ${which}`;
}
