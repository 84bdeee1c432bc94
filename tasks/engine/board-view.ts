/**
 * What the live board and the line output say about items: a running item's elapsed time and last activity, the
 * summary line (running / done / failed / cost so far), and what an item left unfinished by a stop is doing. Read
 * from state and the agents' run files; the renderers (run-tree.ts, line-view.ts) only show it.
 */
import { statSync } from 'node:fs';
import type { Ctx } from './context.ts';
import { attemptFiles } from '../items/item-agent.ts';
import { oneLine, readTail } from '../lib/bounded-text.ts';
import { formatDuration } from '../lib/duration.ts';
import { listItems } from '../lib/plan/types.ts';
import type { ItemState, State } from '../lib/state-types.ts';
import { lastActivity } from '../reporting/last-activity.ts';
import type { WalkOutcome } from './walk.ts';

/** How much of an output file is read for its last activity. */
export const ACTIVITY_TAIL_BYTES = 4096;

/** How often a running item's line is refreshed (and its output files read, at most). */
export const BOARD_TICK_MS = 1000;

/** What a running item's line says: its state in words, and the last line of its agent's output. */
export interface ItemLine {
  /** `running 1m 5s (attempt 2)`, `waiting for an agent slot`, … */
  readonly state: string;
  readonly activity: string | null;
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** The last activity of an item's current attempt: of its stdout or stderr, whichever was written last. */
export function itemActivity(ctx: Ctx, st: ItemState): string | null {
  if (st.attempts < 1) return null;
  const files = attemptFiles(ctx, st.issue, st.attempts);
  const agent = st.handle?.agent ?? ctx.plan.defaults.agent;
  const sources = [files.stdout, files.stderr].sort((a, b) => mtimeOf(b) - mtimeOf(a));
  for (const file of sources) {
    const said = lastActivity(readTail(file, ACTIVITY_TAIL_BYTES).text, agent);
    if (said) return said;
  }
  return null;
}

/** A running item's line at `now`, or null when its agent work is over (its own title says how it ended). */
export function itemLine(ctx: Ctx, issue: number, now: number): ItemLine | null {
  const st = ctx.store.current().items[String(issue)];
  if (!st || st.status === 'pending') return { state: 'waiting for an agent slot', activity: null };
  if (st.status !== 'in-progress') return null;
  if (!st.process) return { state: `starting (attempt ${st.attempts})`, activity: null };
  const elapsed = formatDuration(Math.max(0, now - Date.parse(st.process.startedAt)));
  return { state: `running ${elapsed} (attempt ${st.attempts})`, activity: itemActivity(ctx, st) };
}

/** Whether state records a started agent of the item's current attempt (alive as far as the runner knows). */
export function agentRuns(ctx: Ctx, issue: number): boolean {
  const st = ctx.store.current().items[String(issue)];
  return st?.status === 'in-progress' && st.process !== null;
}

/** What an item's node left unfinished when the run stopped is doing now: the truth, not the node's end. */
export function haltedItemNote(ctx: Ctx, issue: number): string {
  const st = ctx.store.current().items[String(issue)];
  if (st?.status === 'in-progress' && st.process)
    return `agent still running (attempt ${st.attempts}), left alive: run again to re-attach`;
  if (st?.status === 'in-progress') return `attempt ${st.attempts} recorded, its agent not started`;
  return st && st.status !== 'pending' ? st.status : 'not started';
}

/** How an item's agent work ended, in words: `#1 One: complete`, `#2 Two: failed: <why>`. */
export interface ItemVerdict {
  /** ok: complete or partial; failed: failed, escalated or ejected; skipped; open: not over (a stop left it). */
  readonly kind: 'ok' | 'failed' | 'skipped' | 'open';
  readonly text: string;
}

/** The longest reason a verdict quotes (the report and `status` have the whole text). */
const REASON_CHARS = 160;

function reason(text: string | null | undefined): string {
  const line = oneLine(text ?? '');
  if (!line) return '';
  return `: ${line.length <= REASON_CHARS ? line : `${line.slice(0, REASON_CHARS - 1)}…`}`;
}

/** The verdict on the item of a node titled `title`. */
export function itemVerdict(ctx: Ctx, issue: number, title: string): ItemVerdict {
  const st = ctx.store.current().items[String(issue)];
  const status = st?.status ?? 'pending';
  switch (status) {
    case 'complete':
    case 'partial':
      return { kind: 'ok', text: `${title}: ${status}` };
    case 'failed':
    case 'escalated':
    case 'ejected':
      return { kind: 'failed', text: `${title}: ${status}${reason(st?.failure)}` };
    case 'skipped':
      return { kind: 'skipped', text: `${title}: skipped${reason(st?.skipReason)}` };
    case 'pending':
    case 'in-progress':
      return { kind: 'open', text: `${title}: ${status}` };
  }
}

/** Why a node failed, in one bounded line: its error when it is the one the walk ended with (`: <message>`). */
export function failureOf(outcome: WalkOutcome, nodeId: string): string {
  if (outcome.kind !== 'failed' || outcome.node !== nodeId) return ': failed';
  return reason(outcome.error instanceof Error ? outcome.error.message : String(outcome.error)) || ': failed';
}

/** Counts of the summary line. */
export interface BoardCounts {
  readonly running: number;
  readonly waiting: number;
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
  /** Cost the agents reported so far (items and conflict/fix agents), in US dollars. */
  readonly costUsd: number;
}

/** The counts of the items of `issues` in `state` (pure). */
export function countItems(state: State, issues: readonly number[]): BoardCounts {
  const c = { running: 0, waiting: 0, done: 0, failed: 0, skipped: 0, costUsd: 0 };
  for (const issue of issues) {
    const st = state.items[String(issue)];
    c.costUsd += st?.result?.costUsd ?? 0;
    switch (st?.status ?? 'pending') {
      case 'in-progress':
        if (st?.process) c.running++;
        else c.waiting++;
        break;
      case 'pending':
        c.waiting++;
        break;
      case 'complete':
      case 'partial':
        c.done++;
        break;
      case 'failed':
      case 'escalated':
      case 'ejected':
        c.failed++;
        break;
      case 'skipped':
        c.skipped++;
        break;
    }
  }
  for (const s of state.sessions ?? []) c.costUsd += s.costUsd ?? 0;
  return c;
}

/** `2 running · 1 waiting · 3 done · 0 failed · $0.42` (skipped only when some are). */
export function formatCounts(c: BoardCounts): string {
  const parts = [`${c.running} running`, `${c.waiting} waiting`, `${c.done} done`, `${c.failed} failed`];
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  parts.push(`$${c.costUsd.toFixed(2)} so far`);
  return parts.join(' · ');
}

/** The summary line of a run of `ctx`'s milestone, now. */
export function summaryLine(ctx: Ctx): string {
  const counts = countItems(
    ctx.store.current(),
    listItems(ctx.plan).map((i) => i.issue),
  );
  return `Milestone ${ctx.plan.milestone.id}: ${formatCounts(counts)}`;
}
