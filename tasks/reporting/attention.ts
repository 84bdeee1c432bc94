/**
 * What needs a human after a run (failed and skipped items, escalations: docs/steps.md) and the command that continues.
 */
import type { Ctx } from '../engine/context.ts';
import { commandLine } from '../lib/command-words.ts';
import { listItems } from '../lib/plan/types.ts';
import type { ItemState } from '../lib/state-types.ts';

/** One item that needs attention, with why. */
export interface AttentionItem {
  readonly issue: number;
  readonly status: 'failed' | 'skipped' | 'escalated' | 'ejected';
  readonly why: string;
  /** The NOTES of the agent's report, when it left one that `why` does not hold already: shown first. */
  readonly notes?: string;
  /** Escalated because a fix agent undid its change (not a merge conflict). */
  readonly undone?: boolean;
}

/** The report's NOTES of a failed item, unless its failure text quotes them already (`agent reported FAILED: …`). */
function notesOf(st: ItemState): string | undefined {
  const notes = st.result?.report?.notes.trim();
  return notes && !(st.failure ?? '').includes(notes) ? notes : undefined;
}

/** Items that failed, were skipped or escalated (escalations only when `withEscalations`). */
export function itemsNeedingAttention(ctx: Ctx, withEscalations: boolean, waves?: readonly number[]): AttentionItem[] {
  const items = ctx.store.current().items;
  const out: AttentionItem[] = [];
  for (const item of listItems(ctx.plan)) {
    if (waves && !waves.includes(item.wave)) continue;
    const st = items[String(item.issue)];
    if (!st) continue;
    if (st.status === 'failed') {
      const notes = notesOf(st);
      out.push({ issue: item.issue, status: 'failed', why: st.failure ?? 'failed', ...(notes ? { notes } : {}) });
    } else if (st.status === 'ejected') {
      const follow = st.merge?.followUp ? ` (backlog item #${st.merge.followUp})` : '';
      out.push({ issue: item.issue, status: 'ejected', why: `${st.failure ?? 'ejected'}${follow}` });
    } else if (st.status === 'skipped')
      out.push({ issue: item.issue, status: 'skipped', why: st.skipReason ?? 'skipped' });
    else if (st.status === 'escalated' && withEscalations) {
      const follow = st.merge?.followUp ? ` (backlog item #${st.merge.followUp})` : '';
      out.push({
        issue: item.issue,
        status: 'escalated',
        why: `${st.merge?.note ?? 'merge conflict'}${follow}`,
        ...(st.failureCode === 'undone-by-fix' ? { undone: true } : {}),
      });
    }
  }
  return out;
}

/** The "needs attention" message: which items, why, and the exact command to continue. */
export function formatAttention(ctx: Ctx, items: readonly AttentionItem[]): string {
  const n = ctx.plan.milestone.id;
  const lines = [
    `milestone ${n} needs attention:`,
    ...items.map(
      (i) =>
        `  #${i.issue} ${i.status}: ${i.notes ? `NOTES: ${i.notes.split('\n')[0]}; then: ` : ''}${i.why.split('\n')[0]}`,
    ),
  ];
  const retry = items.some((i) => i.status !== 'escalated');
  if (retry)
    lines.push(
      `Fix the cause, then run \`${commandLine(ctx.entry, 'run', [n])}\` again: it retries the failed and skipped items and lands them.`,
    );
  const escalated = items.filter((i) => i.status === 'escalated');
  if (escalated.some((i) => !i.undone))
    lines.push(
      `Escalated conflicts are new backlog items; their branches are kept. Resolve them by hand or in the next milestone.`,
    );
  if (escalated.some((i) => i.undone))
    lines.push(
      `Items a fix agent undid are not landed: their backlog items stay open and their branches are kept. Redo them by hand or in the next milestone.`,
    );
  return lines.join('\n');
}
