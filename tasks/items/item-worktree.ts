/** An item's worktree and branch: which items need one, and creating (or reusing) one with the agent lock file. */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { settingsFor } from './agent-settings.ts';
import { addWorktree, git, listWorktrees, revParse } from '../lib/git.ts';
import { AGENT_LOCK, itemBranchOf, itemWorktreeOf } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import type { Scope } from '../engine/step.ts';
import { blockerOf } from './wave-items.ts';
import { updateItem } from '../lib/state-items.ts';

export { AGENT_LOCK } from '../lib/paths.ts';

/** Items of the scope's wave that still need a worktree: those whose agent work is not over (nor blocked by a failed dependency). */
export function itemsNeedingWorktrees(ctx: Ctx, scope: Scope): PlanItem[] {
  const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
  const items = ctx.store.current().items;
  return (wave?.items ?? []).filter((item) => {
    const status = items[String(item.issue)]?.status ?? 'pending';
    // A pending item whose dependency failed will be skipped: a worktree for it would only be left behind.
    if (status === 'pending' && blockerOf(ctx, item) !== undefined) return false;
    return (
      (status === 'pending' || status === 'in-progress') && (scope.issue === undefined || scope.issue === item.issue)
    );
  });
}

export async function worktreeReady(ctx: Ctx, item: PlanItem): Promise<boolean> {
  const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
  const wt = (await listWorktrees(ctx.repo)).find((w) => path.resolve(w.path) === dir);
  return (
    wt?.branch === itemBranchOf(ctx.plan, item) &&
    existsSync(path.join(dir, AGENT_LOCK)) &&
    ctx.store.current().items[String(item.issue)]?.base != null
  );
}

/** Create (or reuse) the worktree of one item. */
export async function ensureItemWorktree(ctx: Ctx, item: PlanItem): Promise<void> {
  const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
  const branchName = itemBranchOf(ctx.plan, item);
  const recorded = ctx.store.current().items[String(item.issue)];
  const integrationHead = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
  await git(ctx.repo, ['worktree', 'prune']);
  const wt = (await listWorktrees(ctx.repo)).find((w) => path.resolve(w.path) === dir);
  const existing = await revParse(ctx.repo, `refs/heads/${branchName}`);
  if (!wt) {
    await mkdir(path.dirname(dir), { recursive: true });
    await addWorktree(ctx.repo, ctx.commonDir, existing ? [dir, branchName] : ['-b', branchName, dir, integrationHead]);
  }
  const base =
    recorded?.base ?? (existing ? await git(ctx.repo, ['merge-base', branchName, integrationHead]) : integrationHead);
  for (const name of ['node_modules', '.venv']) {
    const from = path.join(ctx.repo, name);
    const to = path.join(dir, name);
    if (existsSync(from) && !existsSync(to)) await symlink(from, to, 'dir');
  }
  await mkdir(path.join(dir, '.claude'), { recursive: true });
  const lock = {
    session_id: randomUUID(),
    parent_pid: process.pid,
    spawned_at: new Date().toISOString(),
    item: item.issue,
    model: settingsFor(ctx, item).model,
  };
  await writeFile(path.join(dir, AGENT_LOCK), `${JSON.stringify(lock, null, 2)}\n`);
  await ctx.store.update((s) => {
    updateItem(s, item.issue, { worktree: dir, branch: branchName, base });
  });
}
