/** complete: follow-ups listed, merged branches and worktrees removed (unmerged kept), report.md, the stash reminder. */
import { existsSync } from 'node:fs';
import { rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { closeLandedItems } from '../backlog/close-milestone.ts';
import { formatAttention, itemsNeedingAttention } from '../reporting/attention.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import type { Ctx } from '../engine/context.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { dirtyPaths, git, gitRaw, isAncestor, listWorktrees, revParse } from '../lib/git.ts';
import { itemBranchOf, itemWorktreeOf, worktreeRootOf } from '../lib/paths.ts';
import { listItems } from '../lib/plan/types.ts';
import { pinRefOf } from '../guards/refs-guard.ts';
import { formatReport } from '../reporting/report-text.ts';
import { DONE, todo, type Step } from '../engine/step.ts';

/** Delete a branch only when main contains it (a checked `update-ref -d`, never `branch -D`). */
async function deleteIfMerged(ctx: Ctx, branch: string): Promise<boolean> {
  const sha = await revParse(ctx.repo, `refs/heads/${branch}`);
  if (!sha) return true;
  if (!(await isAncestor(ctx.repo, sha, `refs/heads/${MAIN_BRANCH}`))) return false;
  await git(ctx.repo, ['update-ref', '-d', `refs/heads/${branch}`, sha]);
  return true;
}

/** Remove a worktree unless it holds uncommitted work (which is kept and listed). */
async function removeWorktree(ctx: Ctx, dir: string): Promise<boolean> {
  if (!existsSync(dir)) {
    await git(ctx.repo, ['worktree', 'prune']);
    return true;
  }
  if ((await dirtyPaths(dir)).length > 0) return false;
  // --force: the agent lock and linked node_modules are ignored files, which plain remove refuses.
  return (await gitRaw(ctx.repo, ['worktree', 'remove', '--force', dir])).exitCode === 0;
}

/**
 * Remove the integration worktree even when gates left files in it (build output, logs): everything of the
 * milestone is committed there, so what is left is not work. Returns those paths.
 */
async function removeIntegrationWorktree(ctx: Ctx): Promise<string[]> {
  const dir = ctx.integrationWorktree;
  if (!existsSync(dir)) {
    await git(ctx.repo, ['worktree', 'prune']);
    return [];
  }
  const leftovers = await dirtyPaths(dir);
  await git(ctx.repo, ['worktree', 'remove', '--force', dir]);
  return leftovers;
}

/**
 * Items whose work has not reached the integration branch: no state yet, pending, in progress, or finished but not
 * merged (failed, skipped and escalated items are what needs attention, not unfinished work).
 */
function unfinishedItems(ctx: Ctx): string[] {
  const items = ctx.store.current().items;
  return listItems(ctx.plan).flatMap((item) => {
    const st = items[String(item.issue)];
    if (!st) return [`#${item.issue} not started`];
    if (st.status === 'pending' || st.status === 'in-progress') return [`#${item.issue} ${st.status}`];
    if ((st.status === 'complete' || st.status === 'partial') && st.merge?.sha == null)
      return [`#${item.issue} ${st.status} but not merged`];
    return [];
  });
}

/** complete step. */
export const complete: Step = {
  id: 'complete',
  async check(ctx) {
    if (!ctx.store.current().complete) return todo('not completed');
    if ((await listWorktrees(ctx.repo)).some((w) => path.resolve(w.path) === ctx.integrationWorktree))
      return todo('the integration worktree is still there');
    return DONE;
  },
  async run(ctx, _scope, progress) {
    // Before anything is removed: completing a milestone whose items never ran would delete its integration branch.
    const unfinished = unfinishedItems(ctx);
    if (unfinished.length > 0) {
      const n = ctx.plan.milestone.id;
      throw new BadInputError(
        `milestone ${n} is not finished (${unfinished.join(', ')}); run \`npx zx scripts/run.mts ${n}\` to finish it`,
      );
    }
    const attention = itemsNeedingAttention(ctx, false);
    if (attention.length > 0) throw new NeedsAttentionError(formatAttention(ctx, attention));
    const kept: string[] = [];
    const items = ctx.store.current().items;
    for (const item of listItems(ctx.plan)) {
      const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
      const branch = itemBranchOf(ctx.plan, item);
      const merged = items[String(item.issue)]?.merge?.sha != null;
      const removed = await removeWorktree(ctx, dir);
      if (!removed) kept.push(`${path.relative(ctx.repo, dir)} (uncommitted changes)`);
      // A kept worktree keeps its branch: deleting it would leave the worktree's uncommitted work on an unborn branch.
      if (removed && merged && (await deleteIfMerged(ctx, branch))) continue;
      if (await revParse(ctx.repo, `refs/heads/${branch}`))
        kept.push(`${branch} (${removed ? 'not merged' : 'its worktree is kept'})`);
    }
    const leftovers = await removeIntegrationWorktree(ctx);
    if (leftovers.length)
      ctx.events.emit({
        type: 'notice',
        message: `removed the integration worktree with files the gates left in it: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''}`,
      });
    // The worktree root we made is removed when nothing else is left in it.
    await rmdir(worktreeRootOf(ctx.repo, ctx.plan)).catch(() => undefined);
    if (!(await deleteIfMerged(ctx, ctx.plan.milestone.integrationBranch)))
      kept.push(`${ctx.plan.milestone.integrationBranch} (not merged)`);
    // The pins of landed items have done their job; an unmerged item's pin keeps its judged commits for a human.
    for (const item of listItems(ctx.plan)) {
      const pin = pinRefOf(ctx, item.issue);
      const sha = await revParse(ctx.repo, pin);
      if (sha && (await isAncestor(ctx.repo, sha, `refs/heads/${MAIN_BRANCH}`)))
        await git(ctx.repo, ['update-ref', '-d', pin, sha]);
    }
    // Before `complete` is recorded: a crash while closing issues closes the rest on the next run.
    const summary = await closeLandedItems(ctx);
    const reportFile = path.join(ctx.stateDir, 'report.md');
    await writeFile(reportFile, formatReport(ctx.plan, ctx.store.current(), kept));
    await ctx.store.update((s) => {
      s.complete = { at: new Date().toISOString(), report: reportFile };
    });
    const followUps = Object.values(ctx.store.current().items).flatMap((i) => [
      ...i.followUps,
      ...(i.merge?.followUp ? [i.merge.followUp] : []),
    ]);
    if (followUps.length)
      ctx.events.emit({
        type: 'notice',
        message: `follow-up backlog items: ${followUps.map((f) => `#${f}`).join(', ')}`,
      });
    if (kept.length) ctx.events.emit({ type: 'notice', message: `kept: ${kept.join(', ')}` });
    ctx.events.emit({ type: 'notice', message: `report: ${reportFile}` });
    const carried = summary.carriedOver.length ? `; carried over: ${summary.carriedOver.join(', ')}` : '';
    const closed = summary.milestoneClosed ? `; milestone ${ctx.plan.milestone.id} closed` : '';
    ctx.events.emit({ type: 'notice', message: `${summary.line}${carried}${closed}` });
    const prep = ctx.store.current().prepare;
    if (prep?.kind === 'stashed') {
      ctx.events.emit({
        type: 'notice',
        message: `Auto-stash ref ${prep.sha} pending; run 'git stash pop ${prep.sha}' to restore.`,
      });
      // git pops only stash entries, not a sha: name the entry that holds it today.
      const entries = (await git(ctx.repo, ['stash', 'list', '--format=%H'])).split('\n');
      const at = entries.indexOf(prep.sha);
      if (at >= 0)
        ctx.events.emit({ type: 'notice', message: `(that stash is stash@{${at}}: git stash pop stash@{${at}})` });
    }
    progress.output(`report: ${reportFile}`);
  },
};
