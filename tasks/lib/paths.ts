/** Where things live, derived from the plan (pure). */
import path from 'node:path';
import type { Plan, PlanItem } from './plan/types.ts';

/** The branch that receives milestones. */
export const MAIN_BRANCH = 'main';

/** The lock file every agent worktree holds (the seed's name and fields). */
export const AGENT_LOCK = '.claude/kage-bunshin.lock';

/** The folders of the user's checkout that item worktrees link to (when the checkout has them). */
export const LINKED_FOLDERS = ['node_modules', '.venv'] as const;

/** The state directory of a milestone (docs/state.md). */
export function stateDirOf(commonDir: string, milestone: string): string {
  return path.join(commonDir, 'work-milestone', `milestone-${milestone}`);
}

/** Root folder of the worktrees (`defaults.worktree-root`, relative to the repository). */
export function worktreeRootOf(repo: string, plan: Plan): string {
  return path.resolve(repo, plan.defaults.worktreeRoot);
}

/** The integration worktree `worktrees/milestone-<N>`. */
export function integrationWorktreeOf(repo: string, plan: Plan): string {
  return path.join(worktreeRootOf(repo, plan), `milestone-${plan.milestone.id}`);
}

/** `<N>-<issue>-<slug>`: the item's worktree folder and branch suffix. */
function itemKey(plan: Plan, item: PlanItem): string {
  return `${plan.milestone.id}-${item.issue}-${item.slug}`;
}

/** The item's worktree folder. */
export function itemWorktreeOf(repo: string, plan: Plan, item: PlanItem): string {
  return path.join(worktreeRootOf(repo, plan), itemKey(plan, item));
}

/** The item's branch `work/<N>-<issue>-<slug>`. */
export function itemBranchOf(plan: Plan, item: PlanItem): string {
  return `work/${itemKey(plan, item)}`;
}

/** Per-item files under the state dir: prompt, stdout, stderr, exit code, result. */
export function itemDirOf(stateDir: string, issue: number): string {
  return path.join(stateDir, 'items', String(issue));
}
