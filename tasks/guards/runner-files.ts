/**
 * The milestone's files the runner keeps: the dispatch plan and, with a file backlog, the item files of the backlog
 * folder (`<dir>/<N>.md`: landing marks items done there, follow-ups are new ones). An item's commits that change them
 * would land as the item's work: another item marked done that never landed, a plan rewritten, a follow-up's number
 * taken. Anything else in that folder (a README, templates, docs when the backlog lives in `docs/`) is not the
 * runner's.
 */
import path from 'node:path';
import type { Plan } from '../lib/plan/types.ts';

/** Where they are, as repository paths (`/`-separated; `''` for the top); null when not in the repository. */
export interface RunnerFiles {
  readonly plan: string | null;
  readonly backlogDir: string | null;
}

/** A repository path for `p` (relative to the repository; `''` for the top), or null when it leads outside it. */
export function inRepo(p: string): string | null {
  const norm = path.posix.normalize(p.split(path.sep).join('/')).replace(/\/+$/, '');
  if (norm === '.' || norm === '') return '';
  return path.posix.isAbsolute(norm) || norm === '..' || norm.startsWith('../') ? null : norm;
}

/** The runner's files of `plan`. */
export function runnerFilesOf(plan: Plan): RunnerFiles {
  const planFile = inRepo(plan.file);
  return {
    plan: planFile || null,
    backlogDir: plan.backlog.kind === 'file' ? inRepo(plan.backlog.dir) : null,
  };
}

/** The backlog item file of `issue` in `dir` (a repository path). */
export function itemFileIn(dir: string, issue: number | string): string {
  return dir ? `${dir}/${issue}.md` : `${issue}.md`;
}

/** The issue whose backlog item file `p` is (`<dir>/<N>.md`), or null. */
function itemFileIssue(p: string, dir: string): number | null {
  const prefix = dir ? `${dir}/` : '';
  if (!p.startsWith(prefix)) return null;
  const match = /^([1-9][0-9]*)\.md$/.exec(p.slice(prefix.length));
  return match ? Number(match[1]) : null;
}

/** Which of `paths` (repository paths) item `issue` may not change, and whether it changed its own backlog file. */
export function touchedRunnerFiles(
  paths: readonly string[],
  kept: RunnerFiles,
  issue: number,
): { readonly others: readonly string[]; readonly own: string | null } {
  const others: string[] = [];
  let own: string | null = null;
  for (const p of paths) {
    const of = kept.backlogDir === null ? null : itemFileIssue(p, kept.backlogDir);
    if (of === issue) own = p;
    else if (of !== null || p === kept.plan) others.push(p);
  }
  return { others, own };
}

/** The kept files as the agent is told of them: the plan file, the backlog's item files. */
export function keptPaths(kept: RunnerFiles): string[] {
  return [...(kept.plan ? [kept.plan] : []), ...(kept.backlogDir === null ? [] : [itemFileIn(kept.backlogDir, '<N>')])];
}
