/**
 * merge (per wave, or per item in a dag run): the merge queue of one slot (docs/steps.md, "Merging"): items one at a
 * time, in the order they finished.
 */
import { oneLine } from '../lib/bounded-text.ts';
import { diffNames } from '../lib/diff-names.ts';
import { gateApplies } from '../gating/gate-run.ts';
import path from 'node:path';
import { runAgentSession } from '../executors/agent-session.ts';
import { REPORT_FORMAT } from '../agents/prompt.ts';
import type { Ctx } from '../engine/context.ts';
import { settingsFor } from '../items/agent-settings.ts';
import { createFollowUp } from '../merging/follow-ups.ts';
import { git, gitOk, isAncestor, revParse } from '../lib/git.ts';
import { itemDirOf } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import { noteMerged, readPassHistory, type PassHistory } from '../lib/git-foreign.ts';
import type { GateResult, ItemMerge, ItemState } from '../lib/state-types.ts';
import {
  mergeItem,
  mergeMessage,
  preMergeGates,
  redBeforeMerge,
  redGateText,
  resetIntegration,
  type MergeOutcome,
} from '../merging/merge-item.ts';
import { mergesNotIn, readEarlierMerges, readQueueFacts, type QueueFacts } from '../merging/merge-pass.ts';
import { keepCommittedAttributes } from '../merging/merge-attributes.ts';
import { guardCommits } from '../guards/agent-guards.ts';
import { stopWhenRedOnBase } from '../gating/red-base.ts';
import { removeScratch } from '../gating/bisect-run.ts';
import { runnerFilesOf } from '../guards/runner-files.ts';
import { changeIntegration, integrationTip, pinItem, pinRefOf } from '../guards/refs-guard.ts';
import { looseRef, surelyNoMergeHead } from '../lib/git-files.ts';
import { looseObjectExists } from '../lib/git-objects.ts';
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

/**
 * Escalate: a backlog item for a human, the item marked escalated (its merge record keeps the conflict class); the wave
 * goes on.
 */
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

/**
 * A PARTIAL item's remaining work becomes a backlog item (once). True when it made one: a file backlog item is a
 * commit on integration, which the merge pass must read again.
 */
async function followUpPartial(ctx: Ctx, item: PlanItem): Promise<boolean> {
  const st = ctx.store.current().items[String(item.issue)];
  if (st?.status !== 'partial' || st.followUps.length > 0) return false;
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
  return true;
}

/**
 * The judged sha of an item (state of an older version: its branch tip), and what happened to its branch since. The
 * branch and the pin are read from the queue's facts; the commit is asked for only when no ref of them holds it.
 */
async function judgedTip(
  ctx: Ctx,
  item: PlanItem,
  facts: QueueFacts,
): Promise<{ readonly sha: string | null; readonly note: string }> {
  const st = ctx.store.current().items[String(item.issue)];
  const branch = st?.branch ?? '';
  // The branch's loose ref file at the judged sha, whose commit is a loose object: git's own answer, no git call.
  const pinned = st?.pinned ?? null;
  if (pinned && looseRef(ctx.commonDir, `refs/heads/${branch}`) === pinned && looseObjectExists(ctx.commonDir, pinned))
    return { sha: pinned, note: '' };
  const refs = await facts.refs();
  const now = refs.get(`refs/heads/${branch}`) ?? null;
  const sha = pinned ?? now;
  const held = sha !== null && (sha === now || refs.get(pinRefOf(ctx, item.issue)) === sha);
  if (!sha || (!held && !(await revParse(ctx.repo, sha))))
    return { sha: null, note: `the judged commits of ${branch} are gone` };
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

/**
 * A fix agent on the item's branch; what it commits is pinned only when it builds on the judged tip and passes the
 * guards.
 */
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
      : (
          await guardCommits(ctx.repo, before ?? st.base ?? after, after, {
            issue: item.issue,
            kept: runnerFilesOf(ctx.plan),
            worktree: st.worktree,
          })
        ).violations.join('; ');
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

/** The judged tips of the queue's items not merged yet, for the pass's one listing of their commits. */
function judgedTips(ctx: Ctx, queue: readonly PlanItem[]): string[] {
  const items = ctx.store.current().items;
  return queue.flatMap((item) => {
    const st = items[String(item.issue)];
    return st?.pinned && !st.merge?.sha ? [st.pinned] : [];
  });
}

/**
 * After a merge the runner knows the integration HEAD it left (the new merge, or `prev` again); anything else that ran
 * meanwhile (a conflict or fix agent, gate commands) may have moved refs, and the queue's facts are read again.
 */
function factsAfter(ctx: Ctx, facts: QueueFacts, outcome: MergeOutcome): QueueFacts | null {
  if (outcome.kind !== 'merged' || outcome.merge.kind === 'medium' || ctx.plan.gates.preMerge.length > 0) return null;
  return outcome.merge.sha ? { ...facts, head: outcome.merge.sha } : null;
}

/**
 * Merge every queued item of a wave. Returns the integration HEAD git gave the pass last, when nothing but the
 * runner's own git ran since (null: unknown).
 */
async function runMergeQueue(
  ctx: Ctx,
  items: readonly PlanItem[],
  from: string | null,
  progress: Progress,
  settled = false,
): Promise<string | null> {
  const queue = mergeQueue(ctx, items).filter((i) => ctx.store.current().items[String(i.issue)]?.branch);
  if (queue.length === 0) return from;
  // Converge from a crash: a merge left half-done is undone (once: every merge below ends merged or reset); one done
  // but not recorded is recorded. No MERGE_HEAD file: git has no merge in progress to tell of.
  if (
    !surelyNoMergeHead(ctx.integrationWorktree) &&
    (await gitOk(ctx.integrationWorktree, ['rev-parse', '-q', '--verify', 'MERGE_HEAD']))
  )
    await resetIntegration(ctx, 'HEAD');
  await keepCommittedAttributes(ctx);
  // From the tip the runner recorded after its last whole operation, the merges are on the first-parent chain.
  const earlier = await readEarlierMerges(ctx, settled ? from : null);
  const branches = queue.map((i) => ctx.store.current().items[String(i.issue)]?.branch ?? '');
  // The pass starts where the refs guard found the branch, with the integration worktree on it.
  let knownHead = from;
  let facts: QueueFacts | null = null;
  // Pre-merge gates this pass found green on the milestone's base: asked once each.
  const greenOnBase = new Set<string>();
  // The items' commits the integration tip lacks, listed once for the whole pass at its first merge.
  let history: PassHistory | null = null;
  const merged = (item: PlanItem) =>
    noteMerged(history, ctx.store.current().items[String(item.issue)]?.pinned ?? '', item.issue);
  try {
    for (const item of queue) {
      const st = ctx.store.current().items[String(item.issue)];
      if (!st?.branch) continue;
      const done = earlier.get(mergeMessage(item));
      // Found but cut short before its pre-merge gates passed: gated now, as it is (a conflict agent's resolution
      // kept).
      const ungated = done ? await gatesCutShort(ctx, st, done) : null;
      if (ungated) {
        const message = `#${item.issue}: its merge was found on the integration branch after a restart, before its pre-merge gates had passed: gating it now`;
        progress.output(message);
        ctx.events.emit({ type: 'notice', message });
      }
      const red = done && ungated ? await preMergeGates(ctx, item, ungated.files, done) : null;
      let firstAttempt = 1;
      if (done && ungated && red) {
        // Red without it too: the found merge is kept (unless the gate is red on main: the run stops, the merge still
        // at the tip). Red only with it: undone, and the item gets what a red first try gets.
        const without = await redBeforeMerge(ctx, item, red, ungated.parent);
        facts = null;
        knownHead = null;
        if (without) {
          await stopWhenRedOnMain(ctx, red, greenOnBase);
          const found = { kind: 'clean' as const, sha: done, files: [], note: 'found merged after a restart' };
          await recordUnchecked(ctx, item, found, without, null, progress);
          merged(item);
          continue;
        }
        await resetIntegration(ctx, ungated.parent);
        progress.output(`#${item.issue}: pre-merge gate ${red.name} red; fix agent in its worktree`);
        await fixItemForGates(ctx, item, redGateText(red), progress);
        firstAttempt = 2;
      } else if (done) {
        const note = ungated
          ? 'found merged after a restart; its pre-merge gates passed then'
          : 'found merged after a restart';
        await recordMerge(ctx, item, { kind: 'clean', sha: done, files: [], note });
        merged(item);
        // An earlier merge found after a restart: what the pass knew of integration is read again.
        await followUpPartial(ctx, item);
        facts = null;
        continue;
      }
      for (let attempt = firstAttempt; ; attempt++) {
        facts ??= await readQueueFacts(ctx, branches, knownHead);
        knownHead = null;
        const prev = facts.head;
        const judged = await judgedTip(ctx, item, facts);
        if (!judged.sha) {
          // An escalation's follow-up may be a commit on integration: read it again.
          await escalate(ctx, item, 'clean', [], judged.note);
          facts = null;
          break;
        }
        if (judged.note) {
          progress.output(`#${item.issue}: ${judged.note}`);
          ctx.events.emit({ type: 'notice', message: `#${item.issue}: ${judged.note}` });
        }
        if (ctx.plan.defaults.merge !== 'squash')
          history ??= await readPassHistory(ctx.integrationWorktree, judgedTips(ctx, queue), prev);
        const outcome = await mergeItem(
          ctx,
          item,
          { branch: st.branch, sha: judged.sha },
          prev,
          st.base ?? prev,
          progress,
          history,
        );
        facts = factsAfter(ctx, facts, outcome);
        if (outcome.kind === 'merged') {
          noteMerged(history, judged.sha, item.issue);
          await recordMerge(ctx, item, {
            ...outcome.merge,
            note: [outcome.merge.note, judged.note].filter(Boolean).join('; '),
          });
          // A follow-up of the file backlog is a commit on integration: the pass's head is then read again.
          if (await followUpPartial(ctx, item)) facts = null;
          break;
        }
        if (outcome.kind === 'escalate') {
          await escalate(ctx, item, outcome.conflict, outcome.files, outcome.note);
          facts = null;
          break;
        }
        // Red pre-merge gate, the merge still at integration's tip. Red on prev too, the item is not to blame (a fix
        // agent per item, then an escalation each, would be paid for what an earlier merge or the gate's setup broke):
        // the merge is kept as made (a conflict agent's resolution with it), unless the gate is red on main too, which
        // stops the run with the merge still at the tip (the next run gates it again there).
        if (attempt === 1) {
          const without = await redBeforeMerge(ctx, item, outcome.gate, prev);
          if (without) {
            await stopWhenRedOnMain(ctx, outcome.gate, greenOnBase);
            await recordUnchecked(ctx, item, outcome.merge, without, judged.note, progress);
            noteMerged(history, judged.sha, item.issue);
            facts = null;
            break;
          }
        }
        // Otherwise the merge is undone, and the item gets one fix and one more try.
        await resetIntegration(ctx, prev);
        if (attempt >= 2) {
          await escalate(
            ctx,
            item,
            outcome.conflict,
            [],
            `pre-merge gates still red after a fix: ${redGateText(outcome.gate).split('\n')[0]}`,
          );
          facts = null;
          break;
        }
        progress.output(`#${item.issue}: pre-merge gate ${outcome.gate.name} red; fix agent in its worktree`);
        await fixItemForGates(ctx, item, redGateText(outcome.gate), progress);
        facts = null;
      }
    }
  } finally {
    // The scratch worktree the checks of a red pre-merge gate ran in (made once per pass, reused).
    await removeScratch(ctx);
  }
  return facts?.head ?? knownHead;
}

/**
 * Before a merge is recorded unchecked: a gate red without the item may be red on main as well (a tool, a service, a
 * submodule it needs is missing), and then every later item would pay two gate runs for nothing. Run it once on the
 * milestone's base (once per pass and gate): red there, the run stops (exit 1), with no fix agent.
 */
async function stopWhenRedOnMain(ctx: Ctx, red: GateResult, greenOnBase: Set<string>): Promise<void> {
  const gate = ctx.plan.gates.preMerge.find((g) => g.name === red.name);
  if (!gate || greenOnBase.has(gate.name)) return;
  await stopWhenRedOnBase(ctx, { gate, phase: 'pre-merge' });
  greenOnBase.add(gate.name);
}

/**
 * A merge whose pre-merge gate is red without the item too: not its doing, so no fix agent; recorded as it is,
 * unchecked, with a note and a notice, and the gates step (which runs the pre-merge gates too) finds what broke it.
 */
async function recordUnchecked(
  ctx: Ctx,
  item: PlanItem,
  merge: Omit<ItemMerge, 'followUp'>,
  red: GateResult,
  judgedNote: string | null,
  progress: Progress,
): Promise<void> {
  const message = `#${item.issue}: pre-merge gate ${red.name} is red without it too: merged unchecked; the gates step finds what broke it`;
  progress.output(message);
  ctx.events.emit({ type: 'notice', message });
  const note = `pre-merge gate ${red.name} is red without it too (log: ${red.log}): merged unchecked`;
  await recordMerge(ctx, item, { ...merge, note: [merge.note, judgedNote, note].filter(Boolean).join('; ') });
  await followUpPartial(ctx, item);
}

/**
 * When `done`, an item's merge found on the integration branch but not recorded, may not have passed its pre-merge
 * gates (the runner stopped between making it and recording it, which is when they run): its first parent and what
 * it changed, for the gates to run on it; null when it needs none. Only the tip can be such a merge (anything the
 * runner put on top came after the record). A clean merge of a branch that started from the merge's first parent
 * needs no gate run, and neither does a merge no pre-merge gate applies to.
 */
async function gatesCutShort(
  ctx: Ctx,
  st: ItemState,
  done: string,
): Promise<{ readonly parent: string; readonly files: readonly string[] } | null> {
  if (ctx.plan.gates.preMerge.length === 0) return null;
  const dir = ctx.integrationWorktree;
  if ((await revParse(dir, 'HEAD')) !== done) return null;
  const parent = await revParse(dir, `${done}^1`);
  if (!parent || parent === st.base) return null;
  const files = await diffNames(dir, [parent, done]);
  return ctx.plan.gates.preMerge.some((g) => gateApplies(g, files)) ? { parent, files } : null;
}

/** merge step. */
export const merge: Step = {
  id: 'merge',
  async check(ctx, scope) {
    const state = ctx.store.current();
    // Read once, only when a merge is to be looked for (confirmed from the ref file when it is the recorded tip).
    let read: Promise<string | null> | null = null;
    const integrationHead = () => (read ??= integrationTip(ctx, state.refs?.integration ?? null));
    // The first reason found without git, and the merges before it, whose ancestry is then tested at once.
    const merged: { readonly issue: number; readonly sha: string }[] = [];
    let reason: string | null = null;
    for (const item of scopedItems(ctx, scope)) {
      const st = state.items[String(item.issue)];
      // Nothing merged yet is not "done": every item of the wave must have finished first.
      if (!st || st.status === 'pending' || st.status === 'in-progress') {
        reason = `#${item.issue} has not finished (${st?.status ?? 'not started'})`;
        break;
      }
      if (st.status !== 'complete' && st.status !== 'partial') continue;
      if (!st.merge?.sha) {
        reason = `#${item.issue} not merged`;
        break;
      }
      if (st.status === 'partial' && st.followUps.length === 0) {
        reason = `#${item.issue} is PARTIAL and has no follow-up yet`;
        break;
      }
      if (!(await integrationHead()) && !state.complete && !state.land) {
        reason = 'the integration branch is missing';
        break;
      }
      merged.push({ issue: item.issue, sha: st.merge.sha });
    }
    const head = merged.length ? await integrationHead() : null;
    // The merges just made are loose commits on integration's first-parent chain: found there, no git call.
    const off = head ? (await mergesNotIn(ctx, head)).filter((i) => merged.some((m) => m.issue === i)) : [];
    if (off.length > 0) return todo(`#${off[0]}'s merge is no longer on integration`);
    return reason === null ? DONE : todo(reason);
  },
  async run(ctx, scope, progress) {
    const items = scopedItems(ctx, scope);
    const label = `merge@${scope.wave ?? ''}${scope.issue === undefined ? '' : `#${scope.issue}`}`;
    // The tip recorded after the last operation that ended (none cut short since): found there, it holds no merge
    // the state does not know of.
    const refs = ctx.store.current().refs;
    const recorded = refs && refs.pending === null ? refs.integration : null;
    await changeIntegration(
      ctx,
      label,
      (from) => runMergeQueue(ctx, items, from, progress, from !== null && from === recorded),
      (head) => head,
    );
    // A crash between a PARTIAL item's merge and its follow-up: the follow-up is made (or found) now, as an operation
    // of the runner's (a file backlog's item is a commit on integration, recorded as the runner's own move).
    const owed = items.filter((item) => {
      const st = ctx.store.current().items[String(item.issue)];
      return st?.merge?.sha && st.status === 'partial' && st.followUps.length === 0;
    });
    if (owed.length > 0)
      await changeIntegration(ctx, `${label} follow-ups`, async () => {
        for (const item of owed) await followUpPartial(ctx, item);
      });
    const st = ctx.store.current().items;
    const n = items.filter((i) => st[String(i.issue)]?.merge?.sha).length;
    progress.output(`${n} merged into ${path.basename(ctx.plan.milestone.integrationBranch)}`);
  },
};
