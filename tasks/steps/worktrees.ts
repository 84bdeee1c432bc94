/**
 * worktrees (per item in a run; a whole wave for `step worktrees --wave`): one worktree and branch per item, from
 * integration HEAD, with the agent lock file.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { AGENT_LOCK, itemWorktreeOf } from '../lib/paths.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import {
  ensureItemWorktree,
  itemsNeedingWorktrees,
  readWorktreeFacts,
  readWorktreeList,
  worktreeReady,
  worktreeSurelyReady,
} from '../items/item-worktree.ts';

/** worktrees step. */
export const worktrees: Step = {
  id: 'worktrees',
  async check(ctx, scope) {
    // Worktrees whose files settle it need no git; one worktree list for the rest of the wave.
    const items = itemsNeedingWorktrees(ctx, scope).filter((item) => !worktreeSurelyReady(ctx, item));
    // Without its agent lock file a worktree is not ready, whatever git lists.
    const bare = items.find((item) => !existsSync(path.join(itemWorktreeOf(ctx.repo, ctx.plan, item), AGENT_LOCK)));
    if (bare) return todo(`#${bare.issue} has no worktree yet`);
    const list = items.length ? await readWorktreeList(ctx) : undefined;
    for (const item of items) {
      if (!(await worktreeReady(ctx, item, list))) return todo(`#${item.issue} has no worktree yet`);
    }
    return DONE;
  },
  async run(ctx, scope, progress) {
    const items = itemsNeedingWorktrees(ctx, scope).filter((item) => !worktreeSurelyReady(ctx, item));
    if (items.length === 0) return;
    // Read once for the wave: each add below changes only its own item's worktree and branch.
    const facts = await readWorktreeFacts(ctx, items);
    for (const item of items) {
      if (await worktreeReady(ctx, item, facts)) continue;
      await ensureItemWorktree(ctx, item, facts);
      const where = path.relative(ctx.repo, itemWorktreeOf(ctx.repo, ctx.plan, item));
      // An item's own node is titled with its number already.
      progress.output(scope.issue === undefined ? `#${item.issue} → ${where}` : where);
    }
  },
};
