/** worktrees (per wave): one worktree and branch per item, from integration HEAD, with the agent lock file. */
import path from 'node:path';
import { itemWorktreeOf } from '../lib/paths.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import { ensureItemWorktree, itemsNeedingWorktrees, worktreeReady } from '../items/item-worktree.ts';

/** worktrees step. */
export const worktrees: Step = {
  id: 'worktrees',
  async check(ctx, scope) {
    for (const item of itemsNeedingWorktrees(ctx, scope)) {
      if (!(await worktreeReady(ctx, item))) return todo(`#${item.issue} has no worktree yet`);
    }
    return DONE;
  },
  async run(ctx, scope, progress) {
    for (const item of itemsNeedingWorktrees(ctx, scope)) {
      if (await worktreeReady(ctx, item)) continue;
      await ensureItemWorktree(ctx, item);
      progress.output(`#${item.issue} → ${path.relative(ctx.repo, itemWorktreeOf(ctx.repo, ctx.plan, item))}`);
    }
  },
};
