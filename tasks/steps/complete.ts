/**
 * complete: follow-ups listed, merged branches and worktrees removed (unmerged kept), report.md, the stash reminder.
 */
import { existsSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { closeLandedItems } from '../backlog/close-milestone.ts';
import { formatAttention, itemsNeedingAttention } from '../reporting/attention.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import type { Ctx } from '../engine/context.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { git, gitRaw, listWorktrees } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { itemBranchOf, itemWorktreeOf, worktreeRootOf } from '../lib/paths.ts';
import { listItems } from '../lib/plan/types.ts';
import { pinRefOf } from '../guards/refs-guard.ts';
import { gitDirOf, refFromFiles, worktreeRegistered } from '../lib/git-files.ts';
import { capEntry } from '../lib/bounded-text.ts';
import { readRegularFileSync } from '../lib/regular-file.ts';
import { readEventLog } from '../lib/events.ts';
import { formatReport } from '../reporting/report-text.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import { commandLine } from '../lib/command-words.ts';
import { mapAtMost } from '../lib/map-at-most.ts';
import { writeOwnFile } from '../lib/own-file.ts';
import { brokenWorktree } from '../lib/worktree-repair.ts';
import type { FailureCode } from '../lib/state-types.ts';

/** How much of events.jsonl report.md's timeline reads. */
const REPORT_EVENTS_BYTES = 16 * 1024 * 1024;

/**
 * Delete the refs that main contains, each only at the sha it was read at (one `for-each-ref --merged`, one
 * `update-ref --stdin` transaction of checked deletes, never `branch -D`). Returns the refs of `refs` that were not
 * deleted because main does not contain them (a ref that does not exist counts as deleted), and which of `listed`
 * exist (from the ref files, or one more `for-each-ref` when they cannot tell).
 */
async function deleteMerged(
  ctx: Ctx,
  refs: readonly string[],
  listed: readonly string[] = [],
): Promise<{ readonly notMerged: Set<string>; readonly existing: Set<string> }> {
  if (refs.length === 0 && listed.length === 0) return { notMerged: new Set(), existing: new Set() };
  const main = `refs/heads/${MAIN_BRANCH}`;
  const lines = (r: string) => r.split('\n').filter(Boolean);
  // Where the ref files settle which refs exist (the usual end: every ref loose), git is not asked.
  const fromFiles = [...refs, ...listed].map((ref) => {
    const sha = refFromFiles(ctx.commonDir, ref);
    return sha ? `${sha} ${ref}` : sha;
  });
  const all = fromFiles.every((line) => line !== undefined)
    ? fromFiles.filter((line): line is string => line !== null)
    : lines(await git(ctx.repo, ['for-each-ref', '--format=%(objectname) %(refname)', ...refs, ...listed]));
  const merged = refs.length
    ? lines(await git(ctx.repo, ['for-each-ref', `--merged=${main}`, '--format=%(objectname) %(refname)', ...refs]))
    : [];
  // for-each-ref matches patterns by prefix too: only the exact refs asked for count.
  const wanted = new Set(refs);
  const mergedRefs = new Set(merged.map((l) => l.slice(l.indexOf(' ') + 1)).filter((r) => wanted.has(r)));
  const deletes = merged.filter((l) => mergedRefs.has(l.slice(l.indexOf(' ') + 1)));
  if (deletes.length > 0) {
    const input = deletes.map((l) => `delete ${l.slice(l.indexOf(' ') + 1)} ${l.slice(0, l.indexOf(' '))}\n`).join('');
    await git(ctx.repo, ['update-ref', '--stdin'], { input });
  }
  const found = all.map((l) => l.slice(l.indexOf(' ') + 1));
  const asked = new Set(listed);
  return {
    notMerged: new Set(found.filter((r) => wanted.has(r) && !mergedRefs.has(r))),
    existing: new Set(found.filter((r) => asked.has(r))),
  };
}

/** Why an item branch is kept at `complete`. */
function keptWhy(worktreeKept: boolean, code: FailureCode | null | undefined): string {
  if (worktreeKept) return 'its worktree is kept';
  return code === 'undone-by-fix' ? 'its change was undone by a fix agent' : 'not merged';
}

/**
 * Whether someone locked one of the runner's worktrees (`git worktree lock`; the runner never does), and the lock's
 * reason ('' when none was given); null when it is not locked.
 */
function worktreeLock(dir: string): string | null {
  const admin = gitDirOf(dir);
  const lock = admin ? path.join(admin, 'locked') : null;
  if (!lock || !existsSync(lock)) return null;
  try {
    return capEntry(readRegularFileSync(lock).trim());
  } catch {
    return '';
  }
}

/**
 * Unlock the integration worktree when someone locked it: it holds nothing but the landed branch, and every removal
 * would be refused on every run. A notice names the lock's reason.
 */
async function unlockIntegrationWorktree(ctx: Ctx, dir: string): Promise<void> {
  const reason = worktreeLock(dir);
  if (reason === null) return;
  await git(ctx.repo, ['worktree', 'unlock', dir]);
  ctx.events.emit({
    type: 'notice',
    message: `${dir} was locked (not by the runner${reason ? `; reason: ${reason}` : ''}); unlocked it to remove it`,
  });
}

/** Worktrees removed at once: each `worktree remove` touches only its own folder and admin entry. */
const REMOVALS_AT_ONCE = 4;

/** What became of an item's worktree at `complete`. */
type Removal =
  | { readonly kind: 'removed' | 'gone' }
  /** Kept: it holds uncommitted work. */
  | { readonly kind: 'kept' }
  /** Kept: someone locked it (`reason`, '' when none was given). */
  | { readonly kind: 'locked'; readonly reason: string }
  /** Kept: git no longer sees a worktree there (`lost` says why). */
  | { readonly kind: 'broken'; readonly lost: string };

/**
 * Remove a worktree unless it holds uncommitted work (which is kept and listed). One git no longer sees as a worktree
 * (its admin folder removed) is kept too: what is in it cannot be told, and its files may be someone's work.
 */
async function removeWorktree(ctx: Ctx, dir: string): Promise<Removal> {
  if (!existsSync(dir)) return { kind: 'gone' };
  const lost = brokenWorktree(ctx.commonDir, dir);
  if (lost !== null) return { kind: 'broken', lost };
  // Locked by someone (to keep it, say): kept, and listed with the lock's reason.
  const reason = worktreeLock(dir);
  if (reason !== null) return { kind: 'locked', reason };
  // Plain remove refuses a worktree with changes or untracked files (the agent lock and linked dependency folders
  // are excluded, so they do not count): one call for the usual clean worktree.
  if ((await gitRaw(ctx.repo, ['worktree', 'remove', dir])).exitCode === 0) return { kind: 'removed' };
  if ((await dirtyPaths(dir)).length > 0) return { kind: 'kept' };
  // Refused for ignored or excluded files only (an older exclude list): nothing of the item's work is lost.
  const forced = (await gitRaw(ctx.repo, ['worktree', 'remove', '--force', dir])).exitCode === 0;
  return { kind: forced ? 'removed' : 'kept' };
}

/** How a kept worktree is listed in the report; null for one that is not kept. */
function keptLine(rel: string, removal: Removal): string | null {
  switch (removal.kind) {
    case 'removed':
    case 'gone':
      return null;
    case 'kept':
      return `${rel} (uncommitted changes)`;
    case 'locked':
      return `${rel} (locked${removal.reason ? `: ${removal.reason}` : ''}; to remove it: git worktree unlock ${rel} && git worktree remove ${rel})`;
    case 'broken':
      return `${rel} (${removal.lost}: git no longer sees a worktree there; look, then remove the folder)`;
  }
}

/**
 * Remove the integration worktree even when gates left files in it (build output, logs): everything of the
 * milestone is committed there, so what is left is not work. Returns those paths.
 */
async function removeIntegrationWorktree(ctx: Ctx): Promise<readonly string[]> {
  const dir = ctx.integrationWorktree;
  if (!existsSync(dir)) {
    await git(ctx.repo, ['worktree', 'prune']);
    return [];
  }
  await unlockIntegrationWorktree(ctx, dir);
  // Clean (the usual end): plain remove does it in one call; else the leftovers are listed first.
  if ((await gitRaw(ctx.repo, ['worktree', 'remove', dir])).exitCode === 0) return [];
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
    // The admin files `worktree list` reads settle it; git is asked when one cannot be read.
    const registered =
      worktreeRegistered(ctx.commonDir, ctx.integrationWorktree) ??
      (await listWorktrees(ctx.repo)).some((w) => path.resolve(w.path) === ctx.integrationWorktree);
    if (registered) return todo('the integration worktree is still there');
    return DONE;
  },
  async run(ctx, _scope, progress) {
    // Before anything is removed: completing a milestone whose items never ran would delete its integration branch.
    const unfinished = unfinishedItems(ctx);
    if (unfinished.length > 0) {
      const n = ctx.plan.milestone.id;
      throw new BadInputError(
        `milestone ${n} is not finished (${unfinished.join(', ')}); run \`${commandLine(ctx.entry, 'run', [n])}\` to finish it`,
      );
    }
    const attention = itemsNeedingAttention(ctx, false);
    if (attention.length > 0) {
      // What landed and what did not (an ejection's bisection too) is worth a report before a human looks; nothing is
      // cleaned up or recorded as complete, and the run that finishes the milestone writes it again.
      const reportFile = path.join(ctx.stateDir, 'report.md');
      const events = readEventLog(ctx.stateDir, REPORT_EVENTS_BYTES);
      await writeOwnFile(reportFile, formatReport(ctx.plan, ctx.store.current(), [], events));
      ctx.events.emit({ type: 'notice', message: `report: ${reportFile}` });
      progress.output(`report: ${reportFile}`);
      throw new NeedsAttentionError(formatAttention(ctx, attention));
    }
    const kept: string[] = [];
    const items = ctx.store.current().items;
    const deletable: string[] = [];
    const keptBranches: string[] = [];
    const worktreeKept = new Set<number>();
    let gone = false;
    const planned = listItems(ctx.plan);
    const removals = await mapAtMost(planned, REMOVALS_AT_ONCE, (item) =>
      removeWorktree(ctx, itemWorktreeOf(ctx.repo, ctx.plan, item)),
    );
    for (const [i, item] of planned.entries()) {
      const dir = itemWorktreeOf(ctx.repo, ctx.plan, item);
      const branch = itemBranchOf(ctx.plan, item);
      const merged = items[String(item.issue)]?.merge?.sha != null;
      const removed = removals[i] as Removal;
      gone ||= removed.kind === 'gone';
      if (removed.kind === 'kept' || removed.kind === 'locked') worktreeKept.add(item.issue);
      const line = keptLine(path.relative(ctx.repo, dir), removed);
      if (line) kept.push(line);
      // A kept worktree keeps its branch: deleting it would leave the worktree's uncommitted work on an unborn branch.
      if (removed.kind !== 'kept' && removed.kind !== 'locked' && merged) deletable.push(`refs/heads/${branch}`);
      else keptBranches.push(`refs/heads/${branch}`);
    }
    // Worktrees deleted by hand leave admin entries that hold their branches: pruned once, before any branch goes.
    if (gone) await git(ctx.repo, ['worktree', 'prune']);
    const leftovers = await removeIntegrationWorktree(ctx);
    if (leftovers.length)
      ctx.events.emit({
        type: 'notice',
        message: `removed the integration worktree with files the gates left in it: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''}`,
      });
    // The worktree root we made is removed when nothing else is left in it.
    await rmdir(worktreeRootOf(ctx.repo, ctx.plan)).catch(() => undefined);
    // Merged item branches, the integration branch and the pins of landed items (they have done their job; an
    // unmerged item's pin keeps its judged commits for a human) go in one checked transaction, once no worktree
    // holds them.
    const integration = `refs/heads/${ctx.plan.milestone.integrationBranch}`;
    const { notMerged: unmerged, existing: left } = await deleteMerged(
      ctx,
      [...deletable, integration, ...planned.map((i) => pinRefOf(ctx, i.issue))],
      keptBranches,
    );
    for (const item of planned) {
      const ref = `refs/heads/${itemBranchOf(ctx.plan, item)}`;
      if (unmerged.has(ref) || left.has(ref))
        kept.push(
          `${itemBranchOf(ctx.plan, item)} (${keptWhy(worktreeKept.has(item.issue), items[String(item.issue)]?.failureCode)})`,
        );
    }
    if (unmerged.has(integration)) kept.push(`${ctx.plan.milestone.integrationBranch} (not merged)`);
    // Before `complete` is recorded: a crash while closing issues closes the rest on the next run.
    const summary = await closeLandedItems(ctx);
    const reportFile = path.join(ctx.stateDir, 'report.md');
    // The timeline comes from events.jsonl (its end, bounded: the last runs of a very long one).
    const events = readEventLog(ctx.stateDir, REPORT_EVENTS_BYTES);
    await writeOwnFile(reportFile, formatReport(ctx.plan, ctx.store.current(), kept, events));
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
