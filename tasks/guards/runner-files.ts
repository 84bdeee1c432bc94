/**
 * The milestone's files the runner keeps: the dispatch plan and, with a file backlog, the backlog folder (landing marks
 * items done there, follow-ups are new files there). An item's commits that change them would land as the item's
 * work: another item marked done that never landed, a plan rewritten, a follow-up's number taken.
 */
import path from 'node:path';
import type { Plan } from '../lib/plan/types.ts';

/** Where they are, as repository paths (`/`-separated); null when not in the repository. */
export interface RunnerFiles {
  readonly plan: string | null;
  readonly backlogDir: string | null;
}

/** A repository path for `p` (relative to the repository), or null when it leads outside it. */
function inRepo(p: string): string | null {
  const norm = path.posix.normalize(p.split(path.sep).join('/')).replace(/\/+$/, '');
  return path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') || norm === '.' ? null : norm;
}

/** The runner's files of `plan`. */
export function runnerFilesOf(plan: Plan): RunnerFiles {
  return {
    plan: inRepo(plan.file),
    backlogDir: plan.backlog.kind === 'file' ? inRepo(plan.backlog.dir) : null,
  };
}

/** Which of `paths` (repository paths) item `issue` may not change, and whether it changed its own backlog file. */
export function touchedRunnerFiles(
  paths: readonly string[],
  kept: RunnerFiles,
  issue: number,
): { readonly others: readonly string[]; readonly own: string | null } {
  const own = kept.backlogDir ? `${kept.backlogDir}/${issue}.md` : null;
  const others: string[] = [];
  let ownTouched: string | null = null;
  for (const p of paths) {
    if (p === own) ownTouched = p;
    else if (p === kept.plan || (kept.backlogDir && p.startsWith(`${kept.backlogDir}/`))) others.push(p);
  }
  return { others, own: ownTouched };
}

/** The kept files as the agent is told of them: the plan file, the backlog folder with a trailing slash. */
export function keptPaths(kept: RunnerFiles): string[] {
  return [...(kept.plan ? [kept.plan] : []), ...(kept.backlogDir ? [`${kept.backlogDir}/`] : [])];
}
