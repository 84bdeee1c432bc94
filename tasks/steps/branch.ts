/**
 * branch: `milestone/<N>-<slug>` from main, checked out in its own integration worktree; the user's checkout is never
 * switched.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { keepRunnerExcludes } from '../guards/exclude-guard.ts';
import { addWorktree, git, isAncestor, listWorktrees, revParse, type WorktreeInfo } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { MAIN_BRANCH, worktreeRootOf } from '../lib/paths.ts';
import { firstOf } from '../lib/bounded-text.ts';
import { linkedWorktreeOn, looseRef, refFromFiles, surelyNothingToPrune } from '../lib/git-files.ts';
import { recordGitSetup } from '../guards/git-setup-guard.ts';
import { recordTrustedConfig } from '../guards/config-guard.ts';
import { recordTrustedDependencies } from '../guards/dependency-guard.ts';
import {
  noMainAnyMore,
  recordIntegration,
  recordMainSeen,
  repairIntegrationWorktree,
  restoreIntegration,
} from '../guards/refs-guard.ts';
import { DONE, todo, type Step } from '../engine/step.ts';

/** A ref's commit (`revParse`), without git when its loose file holds it or the files say it surely does not exist. */
async function readRef(ctx: Ctx, ref: string): Promise<string | null> {
  const known = refFromFiles(ctx.commonDir, ref);
  return known !== undefined ? known : revParse(ctx.repo, ref);
}

/**
 * Landing fast-forwards the checkout that has main checked out, and only a clean one. Another worktree of the user's
 * on main with uncommitted changes would stop the run there, after every agent ran: said now instead, before any.
 * The user's own checkout is prepare's; the runner's worktrees are its own. One `status`, only when there is such a
 * worktree.
 */
async function refuseDirtyMainElsewhere(ctx: Ctx, worktrees: readonly WorktreeInfo[]): Promise<void> {
  const ours = worktreeRootOf(ctx.repo, ctx.plan);
  const holder = worktrees.find(
    (w) =>
      w.branch === MAIN_BRANCH &&
      path.resolve(w.path) !== path.resolve(ctx.repo) &&
      !path.resolve(w.path).startsWith(`${ours}/`) &&
      existsSync(w.path),
  );
  if (!holder) return;
  const dirty = await dirtyPaths(holder.path);
  if (dirty.length)
    throw new BadInputError(
      `${holder.path} has ${MAIN_BRANCH} checked out with uncommitted changes (${firstOf(dirty, 3)}); landing moves ` +
        `${MAIN_BRANCH} there, so commit or stash them first, then run again`,
    );
}

/** branch step. */
export const branch: Step = {
  id: 'branch',
  async check(ctx) {
    const recorded = ctx.store.current().branch;
    if (!recorded) return todo('integration branch not created');
    // After complete (or during it, once landed) the branch is deleted on purpose.
    if (ctx.store.current().complete) return DONE;
    const landed = ctx.store.current().land;
    if (
      landed &&
      (await isAncestor(ctx.repo, landed.integration, `refs/heads/${MAIN_BRANCH}`)) &&
      !(await revParse(ctx.repo, `refs/heads/${recorded.name}`))
    )
      return DONE;
    // The recorded tip confirmed from the branch's ref file, else git.
    const recordedTip = ctx.store.current().refs?.integration ?? recorded.base;
    const head =
      looseRef(ctx.commonDir, `refs/heads/${recorded.name}`) === recordedTip
        ? recordedTip
        : await revParse(ctx.repo, `refs/heads/${recorded.name}`);
    if (!head)
      return todo(
        `branch ${recorded.name} is missing${ctx.store.current().refs?.integration ? ' (it is recreated at its recorded tip)' : ''}`,
      );
    if (head !== recorded.base && !(await isAncestor(ctx.repo, recorded.base, head)))
      return todo(`branch ${recorded.name} lost its base ${recorded.base.slice(0, 10)}`);
    // The worktree's own files naming the branch (as `worktree list` reads them) settle it without git.
    if (linkedWorktreeOn(ctx.commonDir, ctx.integrationWorktree, recorded.name)) return DONE;
    const wt = (await listWorktrees(ctx.repo)).find(
      (w) => path.resolve(w.path) === path.resolve(ctx.integrationWorktree),
    );
    if (!wt || wt.branch !== recorded.name || !existsSync(wt.path))
      return todo(`integration worktree ${ctx.integrationWorktree} is missing`);
    return DONE;
  },
  async run(ctx, _scope, progress) {
    const name = ctx.plan.milestone.integrationBranch;
    // Before anything is written: without main there is nothing to build on.
    const localMain = await readRef(ctx, `refs/heads/${MAIN_BRANCH}`);
    // Deleted since the milestone saw it: as the refs guard says it (exit 3); never there: bad input (exit 2).
    if (!localMain && ctx.store.current().refs?.main) throw new NeedsAttentionError(noMainAnyMore(ctx));
    if (!localMain) throw new BadInputError(await noMainMessage(ctx));
    await keepRunnerExcludes(ctx, false);
    if (await ctx.hasOrigin()) {
      progress.output('git fetch origin');
      await git(ctx.repo, ['fetch', '--quiet', 'origin']);
    }
    const recorded = ctx.store.current().branch;
    // Deleted by someone else after the runner made it: it comes back where the runner left it, not from main.
    if (recorded) await restoreIntegration(ctx);
    // Its worktree's git admin folder removed: git would refuse to add it where its files still are.
    if (recorded && existsSync(ctx.integrationWorktree)) await repairIntegrationWorktree(ctx);
    const existing = await readRef(ctx, `refs/heads/${name}`);
    // Our own integration worktree already holding the branch means a crash before it was recorded: resume.
    // Pruned only when an entry is stale (the files prune reads say so).
    if (!surelyNothingToPrune(ctx.commonDir)) await git(ctx.repo, ['worktree', 'prune']);
    // Read once: nothing below changes worktrees before the add.
    const worktreeList = await listWorktrees(ctx.repo);
    await refuseDirtyMainElsewhere(ctx, worktreeList);
    const ours = worktreeList.some(
      (w) => path.resolve(w.path) === path.resolve(ctx.integrationWorktree) && w.branch === name,
    );
    if (existing && !recorded && !ctx.options.adopt && !ours) {
      throw new BadInputError(
        `branch ${name} already exists and milestone ${ctx.plan.milestone.id} has no state; pass --adopt to continue on it, or delete it`,
      );
    }
    // A local main behind origin's would make the landing push fail: start from origin's then.
    const remoteMain = await readRef(ctx, `refs/remotes/origin/${MAIN_BRANCH}`);
    const main =
      remoteMain && remoteMain !== localMain && (await isAncestor(ctx.repo, localMain, remoteMain))
        ? remoteMain
        : localMain;
    const wt = worktreeList.find((w) => path.resolve(w.path) === path.resolve(ctx.integrationWorktree));
    if (!wt) {
      const args = existing ? [ctx.integrationWorktree, name] : ['-b', name, ctx.integrationWorktree, main];
      await addWorktree(ctx.repo, ctx.commonDir, args);
    } else if (wt.branch !== name && recorded && (await dirtyPaths(wt.path)).length === 0) {
      // Our own integration worktree, switched away by someone else: put it back.
      await git(wt.path, ['switch', '-q', name]);
      ctx.events.emit({
        type: 'notice',
        message: `${ctx.integrationWorktree} was on ${wt.branch ?? 'a detached HEAD'} (not by the runner); switched it back to ${name}`,
      });
    } else if (wt.branch !== name) {
      throw new BadInputError(
        `${ctx.integrationWorktree} holds ${wt.branch ?? 'a detached HEAD'}, not ${name}; remove that worktree first`,
      );
    }
    const base = recorded?.base ?? (existing ? await git(ctx.repo, ['merge-base', existing, main]) : main);
    await ctx.store.update((s) => {
      s.branch = { name, base, worktree: ctx.integrationWorktree, at: new Date().toISOString() };
    });
    if (!ctx.store.current().refs?.integration) {
      // A branch made here is at `main` (confirmed from its ref file).
      await recordIntegration(ctx, existing ?? main);
      await recordMainSeen(ctx, localMain, remoteMain);
      // What .git/hooks and the config look like before any agent ran: each later change is reported once.
      await recordGitSetup(ctx.commonDir, ctx.stateDir, ctx.trusted);
      // What filters and merge drivers the runner's merges may run: the user's, from before any agent.
      await recordTrustedConfig(ctx);
      // And the dependency folders item worktrees will link to, which the gates read.
      await recordTrustedDependencies(ctx);
    }
    progress.output(`${name} at ${path.relative(ctx.repo, ctx.integrationWorktree)}`);
  },
};

/** Why there is nothing to land on: no `main` (a repository on `master`: its branches are listed). */
async function noMainMessage(ctx: Ctx): Promise<string> {
  const names = (await git(ctx.repo, ['for-each-ref', '--count=6', '--format=%(refname:short)', 'refs/heads/']))
    .split('\n')
    .filter(Boolean);
  const listed = names.length > 5 ? `${names.slice(0, 5).join(', ')}, …` : names.join(', ');
  return (
    `${ctx.repo} has no branch ${MAIN_BRANCH}, the branch work-milestone builds milestones on and lands them on` +
    (names.length ? ` (its branches: ${listed})` : ' (it has no branch yet)')
  );
}
