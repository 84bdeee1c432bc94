/** An item's worktree and branch: which items need one, and creating (or reusing) one with the agent lock file. */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { integrationHead } from '../guards/refs-guard.ts';
import { settingsFor } from './agent-settings.ts';
import { addWorktree, git, listWorktrees, type WorktreeInfo } from '../lib/git.ts';
import { gitDirOf, headFileBranch, refSurelyAbsent, surelyNothingToPrune } from '../lib/git-files.ts';
import { AGENT_LOCK, itemBranchOf, itemWorktreeOf, LINKED_FOLDERS } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import type { Scope } from '../engine/step.ts';
import { blockerOf } from './wave-items.ts';
import { updateItem } from '../lib/state-items.ts';
import { readRegularFileSync } from '../lib/regular-file.ts';
import { writeOwnFile } from '../lib/own-file.ts';

export { AGENT_LOCK } from '../lib/paths.ts';

/**
 * Items of the scope's wave that still need a worktree: those whose agent work is not over (nor blocked by a failed
 * dependency).
 */
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

/**
 * What one pass over a wave's worktrees reads once for all its items: the worktree list, and (to create worktrees) the
 * integration HEAD and which item branches exist. Read again by the next pass: nothing is kept between steps.
 */
export interface WorktreeFacts {
  readonly worktrees: readonly WorktreeInfo[];
  readonly integrationHead?: string;
  /** Item branch tips by branch name (absent: no such branch). */
  readonly branches?: ReadonlyMap<string, string>;
}

/** The worktree list, for `worktreeReady` of many items. */
export async function readWorktreeList(ctx: Ctx): Promise<WorktreeFacts> {
  return { worktrees: await listWorktrees(ctx.repo) };
}

/**
 * Everything `ensureItemWorktree` needs for `items`, in at most four git calls whatever their number: stale worktree
 * entries pruned (a worktree folder deleted by hand), the list, the integration HEAD, the item branches that exist.
 * The list is read only when a folder of the items exists (after the prune none is registered otherwise), the HEAD
 * from the integration worktree's HEAD file and loose ref when they name it, the branches only when one may exist.
 */
export async function readWorktreeFacts(ctx: Ctx, items: readonly PlanItem[]): Promise<WorktreeFacts> {
  // Only when an entry is stale (its folder deleted by hand): the files prune reads settle it.
  if (!surelyNothingToPrune(ctx.commonDir)) await git(ctx.repo, ['worktree', 'prune']);
  const anyFolder = items.some((item) => existsSync(itemWorktreeOf(ctx.repo, ctx.plan, item)));
  const worktrees = anyFolder ? await listWorktrees(ctx.repo) : [];
  const head = await integrationHead(ctx);
  const refs = items.map((item) => `refs/heads/${itemBranchOf(ctx.plan, item)}`);
  const wanted = new Set(refs);
  const branches = new Map<string, string>();
  const ask = refs.some((ref) => !refSurelyAbsent(ctx.commonDir, ref));
  const out = ask ? await git(ctx.repo, ['for-each-ref', '--format=%(objectname) %(refname)', ...refs]) : '';
  for (const line of out.split('\n').filter(Boolean)) {
    const [sha = '', ref = ''] = line.split(' ');
    // for-each-ref also matches a pattern as a prefix: only the exact branch names count.
    if (wanted.has(ref)) branches.set(ref.slice('refs/heads/'.length), sha);
  }
  return { worktrees, integrationHead: head, branches };
}

/**
 * Whether an item's worktree is surely ready, from the files `git worktree list` reads: the folder's `.git` file names
 * an admin folder of this repository whose `gitdir` names the folder back and whose HEAD names the item branch, with
 * the agent lock file and a recorded base. False: ask git (`worktreeReady`).
 */
export function worktreeSurelyReady(ctx: Ctx, item: PlanItem): boolean {
  const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
  if (ctx.store.current().items[String(item.issue)]?.base == null || !existsSync(path.join(dir, AGENT_LOCK)))
    return false;
  const admin = gitDirOf(dir);
  if (!admin || path.dirname(admin) !== path.join(ctx.commonDir, 'worktrees')) return false;
  try {
    const back = readRegularFileSync(path.join(admin, 'gitdir')).trim();
    if (path.resolve(admin, back) !== path.join(dir, '.git')) return false;
  } catch {
    return false;
  }
  return headFileBranch(dir) === itemBranchOf(ctx.plan, item);
}

export async function worktreeReady(ctx: Ctx, item: PlanItem, facts?: WorktreeFacts): Promise<boolean> {
  const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
  const list = facts?.worktrees ?? (await listWorktrees(ctx.repo));
  const wt = list.find((w) => path.resolve(w.path) === dir);
  return (
    wt?.branch === itemBranchOf(ctx.plan, item) &&
    existsSync(path.join(dir, AGENT_LOCK)) &&
    ctx.store.current().items[String(item.issue)]?.base != null
  );
}

/**
 * Create (or reuse) the worktree of one item. `facts` (readWorktreeFacts of the pass, read after the last change the
 * runner made to worktrees, integration or item branches) saves reading them again for every item.
 */
export async function ensureItemWorktree(ctx: Ctx, item: PlanItem, facts?: WorktreeFacts): Promise<void> {
  const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
  const branchName = itemBranchOf(ctx.plan, item);
  const recorded = ctx.store.current().items[String(item.issue)];
  const known = facts?.integrationHead !== undefined && facts.branches ? facts : await readWorktreeFacts(ctx, [item]);
  const integrationSha = known.integrationHead as string;
  const wt = known.worktrees.find((w) => path.resolve(w.path) === dir);
  const existing = known.branches?.get(branchName) ?? null;
  if (!wt) {
    await mkdir(path.dirname(dir), { recursive: true });
    await addWorktree(ctx.repo, ctx.commonDir, existing ? [dir, branchName] : ['-b', branchName, dir, integrationSha]);
  }
  const base =
    recorded?.base ?? (existing ? await git(ctx.repo, ['merge-base', branchName, integrationSha]) : integrationSha);
  for (const name of LINKED_FOLDERS) {
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
  await writeOwnFile(path.join(dir, AGENT_LOCK), `${JSON.stringify(lock, null, 2)}\n`);
  await ctx.store.update((s) => {
    updateItem(s, item.issue, { worktree: dir, branch: branchName, base });
  });
}
