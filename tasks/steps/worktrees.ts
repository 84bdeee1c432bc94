/** worktrees (per wave): one worktree and branch per item, from integration HEAD, with the agent lock file. */
import path from 'node:path';
import { itemWorktreeOf } from '../lib/paths.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import {
  ensureItemWorktree,
  itemsNeedingWorktrees,
  readWorktreeFacts,
  readWorktreeList,
  worktreeReady,
} from '../items/item-worktree.ts';

/** worktrees step. */
export const worktrees: Step = {
  id: 'worktrees',
  async check(ctx, scope) {
    const items = itemsNeedingWorktrees(ctx, scope);
    // One worktree list for the whole wave (its output grows with the repository's worktrees).
    const list = items.length ? await readWorktreeList(ctx) : undefined;
    for (const item of items) {
      if (!(await worktreeReady(ctx, item, list))) return todo(`#${item.issue} has no worktree yet`);
    }
    return DONE;
  },
  async run(ctx, scope, progress) {
    const items = itemsNeedingWorktrees(ctx, scope);
    if (items.length === 0) return;
    // Read once for the wave: each add below changes only its own item's worktree and branch.
    const facts = await readWorktreeFacts(ctx, items);
    for (const item of items) {
      if (await worktreeReady(ctx, item, facts)) continue;
      await ensureItemWorktree(ctx, item, facts);
      progress.output(`#${item.issue} → ${path.relative(ctx.repo, itemWorktreeOf(ctx.repo, ctx.plan, item))}`);
    }
  },
};
