/**
 * merge (per wave, or per item in a dag run): the merge queue of one slot (docs/steps.md, "Merging"): items one at a
 * time, in the order they finished.
 */
import { oneLine } from '../lib/bounded-text.ts';
import path from 'node:path';
import { runAgentSession } from '../executors/agent-session.ts';
import { REPORT_FORMAT } from '../agents/prompt.ts';
import type { Ctx } from '../engine/context.ts';
import { settingsFor } from '../items/agent-settings.ts';
import { createFollowUp } from '../merging/follow-ups.ts';
import { git, gitOk, isAncestor, revParse } from '../lib/git.ts';
import { itemDirOf } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import type { ItemMerge, ItemState } from '../lib/state-types.ts';
import { mergeItem, mergeMessage, redGateText, resetIntegration } from '../merging/merge-item.ts';
import { guardCommits } from '../guards/agent-guards.ts';
import { changeIntegration, pinItem } from '../guards/refs-guard.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { scopedItems } from '../items/wave-items.ts';
import { updateItem } from '../lib/state-items.ts';

/** Items of a wave that are waiting to be merged, in the order they finished. */
function mergeQueue(ctx: Ctx, items: readonly PlanItem[]): PlanItem[] {
  const st = ctx.store.current().items;
  return items
    .filter((i) => {
      const s = st[String(i.issue)];
      return (s?.status === 'complete' || s?.status === 'partial') && !s.merge;
    })
    .sort((a, b) => (st[String(a.issue)]?.finishSeq ?? 0) - (st[String(b.issue)]?.finishSeq ?? 0));
}

/** The integration commit that merged an item (`Merge #42: …`) since the milestone's base, found after a crash. */
async function findMergeCommit(ctx: Ctx, item: PlanItem): Promise<string | null> {
  const base = ctx.store.current().branch?.base;
  if (!base) return null;
  const log = await git(ctx.integrationWorktree, ['log', '--format=%H%x09%s', `${base}..HEAD`]);
  const line = log.split('\n').find((l) => l.slice(41) === mergeMessage(item));
  return line ? line.slice(0, 40) : null;
}

async function recordMerge(
  ctx: Ctx,
  item: PlanItem,
  merge: Omit<ItemMerge, 'followUp'>,
  status?: ItemState['status'],
): Promise<void> {
  await ctx.store.update((s) => {
    updateItem(s, item.issue, { merge: { ...merge, followUp: null }, ...(status ? { status } : {}) });
  });
  ctx.events.emit({ type: 'merge', issue: item.issue, kind: merge.kind, sha: merge.sha, note: merge.note });
}

/** Escalate: a backlog item for a human, the item marked escalated (its merge record keeps the conflict class); the wave goes on. */
async function escalate(
  ctx: Ctx,
  item: PlanItem,
  kind: ItemMerge['kind'],
  files: readonly string[],
  note: string,
): Promise<void> {
  const st = ctx.store.current().items;
  const other = Object.values(st)
    .filter((i) => i.merge?.sha && i.result?.files.some((f) => files.includes(f)))
    .sort((a, b) => (b.finishSeq ?? 0) - (a.finishSeq ?? 0))[0];
  const otherTitle = other
    ? (ctx.plan.waves.flatMap((w) => w.items).find((i) => i.issue === other.issue)?.title ?? `#${other.issue}`)
    : ctx.plan.milestone.integrationBranch;
  const mine = st[String(item.issue)];
  const followUp = await createFollowUp(ctx, {
    title: oneLine(`Resolve merge conflict: ${otherTitle} vs ${item.title}`),
    labels: ['conflict-resolution'],
    sections: {
      Description: `Merging #${item.issue} (${item.title}) into ${ctx.plan.milestone.integrationBranch} was escalated: ${note}`,
      Files: files.map((f) => `- ${f}`).join('\n') || '- (none)',
      Branches: `- item: ${mine?.branch ?? '?'} (kept, not merged)\n- integration: ${ctx.plan.milestone.integrationBranch}${other?.branch ? `\n- conflicting item: ${other.branch}` : ''}`,
      Reports: [other, mine]
        .filter(Boolean)
        .map((i) => `#${i?.issue}: ${i?.result?.report?.status ?? '?'} — ${i?.result?.report?.notes ?? ''}`)
        .join('\n'),
    },
  });
  await ctx.store.update((s) => {
    updateItem(s, item.issue, {
      status: 'escalated',
      failureCode: 'merge-escalated',
      merge: { kind, sha: null, files: [...files], note, followUp },
    });
  });
  ctx.events.emit({ type: 'merge', issue: item.issue, kind, sha: null, note });
  ctx.events.emit({
    type: 'item',
    issue: item.issue,
    status: 'escalated',
    detail: `${note} (backlog item #${followUp})`,
    failureCode: 'merge-escalated',
  });
}

/** A PARTIAL item's remaining work becomes a backlog item (once). */
async function followUpPartial(ctx: Ctx, item: PlanItem): Promise<void> {
  const st = ctx.store.current().items[String(item.issue)];
  if (st?.status !== 'partial' || st.followUps.length > 0) return;
  const report = st.result?.report;
  const followUp = await createFollowUp(ctx, {
    title: oneLine(`Finish #${item.issue}: ${item.title}`),
    labels: ['follow-up'],
    dependsOn: [item.issue],
    sections: {
      Description: `#${item.issue} was merged PARTIAL in milestone ${ctx.plan.milestone.id}; what it did is on ${ctx.plan.milestone.integrationBranch}.`,
      Branch: `${st.branch ?? '(none)'} (what #${item.issue} did; merged into ${ctx.plan.milestone.integrationBranch})`,
      'Blocked Tasks': report?.tasksBlocked.map((t) => `- ${t}`).join('\n') || '- (none listed)',
      Notes: report?.notes || '(none)',
    },
  });
  await ctx.store.update((s) => {
    updateItem(s, item.issue, (it) => ({ followUps: [...it.followUps, followUp] }));
  });
}

/** The judged sha of an item (state of an older version: its branch tip), and what happened to its branch since. */
async function judgedTip(ctx: Ctx, item: PlanItem): Promise<{ readonly sha: string | null; readonly note: string }> {
  const st = ctx.store.current().items[String(item.issue)];
  const branch = st?.branch ?? '';
  const now = await revParse(ctx.repo, `refs/heads/${branch}`);
  const sha = st?.pinned ?? now;
  if (!sha || !(await revParse(ctx.repo, sha))) return { sha: null, note: `the judged commits of ${branch} are gone` };
  if (now === sha) return { sha, note: '' };
  if (!now)
    return { sha, note: `${branch} was deleted after it was judged; merging its judged tip ${sha.slice(0, 10)}` };
  if (await isAncestor(ctx.repo, sha, now)) {
    const added = await git(ctx.repo, ['rev-list', '--count', `${sha}..${now}`]);
    return {
      sha,
      note: `${added} commit(s) added to ${branch} after it was judged are ignored (judged tip ${sha.slice(0, 10)}, branch now ${now.slice(0, 10)})`,
    };
  }
  return {
    sha,
    note: `${branch} was rewound or rewritten after it was judged; merging its judged tip ${sha.slice(0, 10)} (branch now ${now.slice(0, 10)})`,
  };
}

/** A fix agent on the item's branch; what it commits is pinned only when it builds on the judged tip and passes the guards. */
async function fixItemForGates(ctx: Ctx, item: PlanItem, text: string, progress: Progress): Promise<void> {
  const st = ctx.store.current().items[String(item.issue)];
  if (!st?.worktree || !st.branch) return;
  await runAgentSession(ctx, {
    role: 'fix',
    issue: item.issue,
    title: item.title,
    wave: item.wave,
    worktree: st.worktree,
    branch: st.branch,
    prompt: `Your branch ${st.branch} (worktree ${st.worktree}) of item #${item.issue} "${item.title}" breaks a quality gate once merged into ${ctx.plan.milestone.integrationBranch}:\n\n${text}\n\nMerge or rebase nothing; fix the code on your branch so the gate passes after the merge, and commit the fix.\n\n${REPORT_FORMAT}`,
    settings: settingsFor(ctx, item),
    dir: itemDirOf(ctx.stateDir, item.issue),
    name: 'fix',
  });
  const before = ctx.store.current().items[String(item.issue)]?.pinned ?? null;
  const after = await revParse(ctx.repo, `refs/heads/${st.branch}`);
  if (!after || after === before) return;
  const problem =
    before && !(await isAncestor(ctx.repo, before, after))
      ? `the fix agent rewrote ${st.branch} instead of adding to it`
      : (await guardCommits(ctx.repo, before ?? st.base ?? after, after)).join('; ');
  if (problem) {
    progress.output(`#${item.issue}: fix not taken: ${problem}`);
    ctx.events.emit({
      type: 'notice',
      message: `#${item.issue}: the gate fix on ${st.branch} is not merged: ${problem}`,
    });
    return;
  }
  await pinItem(ctx, item.issue, after);
}

/** Merge every queued item of a wave. */
async function runMergeQueue(ctx: Ctx, items: readonly PlanItem[], progress: Progress): Promise<void> {
  for (const item of mergeQueue(ctx, items)) {
    const st = ctx.store.current().items[String(item.issue)];
    if (!st?.branch) continue;
    // Converge from a crash: a merge left half-done is undone; one done but not recorded is recorded.
    if (await gitOk(ctx.integrationWorktree, ['rev-parse', '-q', '--verify', 'MERGE_HEAD']))
      await resetIntegration(ctx, 'HEAD');
    const done = await findMergeCommit(ctx, item);
    if (done) {
      await recordMerge(ctx, item, { kind: 'clean', sha: done, files: [], note: 'found merged after a restart' });
      await followUpPartial(ctx, item);
      continue;
    }
    for (let attempt = 1; ; attempt++) {
      const prev = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
      const judged = await judgedTip(ctx, item);
      if (!judged.sha) {
        await escalate(ctx, item, 'clean', [], judged.note);
        break;
      }
      if (judged.note) {
        progress.output(`#${item.issue}: ${judged.note}`);
        ctx.events.emit({ type: 'notice', message: `#${item.issue}: ${judged.note}` });
      }
      const outcome = await mergeItem(
        ctx,
        item,
        { branch: st.branch, sha: judged.sha },
        prev,
        st.base ?? prev,
        progress,
      );
      if (outcome.kind === 'merged') {
        await recordMerge(ctx, item, {
          ...outcome.merge,
          note: [outcome.merge.note, judged.note].filter(Boolean).join('; '),
        });
        await followUpPartial(ctx, item);
        break;
      }
      if (outcome.kind === 'escalate') {
        await escalate(ctx, item, outcome.conflict, outcome.files, outcome.note);
        break;
      }
      // Red pre-merge gate: integration is back at prev; the item gets one fix and one more try.
      if (attempt >= 2) {
        await escalate(
          ctx,
          item,
          outcome.conflict,
          [],
          `pre-merge gates still red after a fix: ${redGateText(outcome.gate).split('\n')[0]}`,
        );
        break;
      }
      progress.output(`#${item.issue}: pre-merge gate ${outcome.gate.name} red; fix agent in its worktree`);
      await fixItemForGates(ctx, item, redGateText(outcome.gate), progress);
    }
  }
}

/** merge step. */
export const merge: Step = {
  id: 'merge',
  async check(ctx, scope) {
    const state = ctx.store.current();
    const head = await revParse(ctx.repo, `refs/heads/${ctx.plan.milestone.integrationBranch}`);
    for (const item of scopedItems(ctx, scope)) {
      const st = state.items[String(item.issue)];
      // Nothing merged yet is not "done": every item of the wave must have finished first.
      if (!st || st.status === 'pending' || st.status === 'in-progress')
        return todo(`#${item.issue} has not finished (${st?.status ?? 'not started'})`);
      if (st.status !== 'complete' && st.status !== 'partial') continue;
      if (!st.merge?.sha) return todo(`#${item.issue} not merged`);
      if (st.status === 'partial' && st.followUps.length === 0)
        return todo(`#${item.issue} is PARTIAL and has no follow-up yet`);
      if (head && !(await isAncestor(ctx.repo, st.merge.sha, head)))
        return todo(`#${item.issue}'s merge is no longer on integration`);
      if (!head && !state.complete && !state.land) return todo('the integration branch is missing');
    }
    return DONE;
  },
  async run(ctx, scope, progress) {
    const items = scopedItems(ctx, scope);
    const label = `merge@${scope.wave ?? ''}${scope.issue === undefined ? '' : `#${scope.issue}`}`;
    await changeIntegration(ctx, label, () => runMergeQueue(ctx, items, progress));
    // A crash between a PARTIAL item's merge and its follow-up: the follow-up is made (or found) now.
    for (const item of items)
      if (ctx.store.current().items[String(item.issue)]?.merge?.sha) await followUpPartial(ctx, item);
    const st = ctx.store.current().items;
    const n = items.filter((i) => st[String(i.issue)]?.merge?.sha).length;
    progress.output(`${n} merged into ${path.basename(ctx.plan.milestone.integrationBranch)}`);
  },
};
