/**
 * The summary `run --json` ends with (docs/status.md, "Run summary"): the run's items, durations, costs, tokens,
 * gates, follow-ups, exit code and exit reason, as one JSON object. Pure.
 */
import type { StampedEvent } from '../lib/events.ts';
import type { Plan } from '../lib/plan/types.ts';
import { listItems } from '../lib/plan/types.ts';
import type { FailureCode, ItemStatus, State } from '../lib/state-types.ts';
import { followUpsCreated, type CreatedFollowUp } from './report-text.ts';
import { addTokens, tokensOf, type Tokens } from './tokens.ts';

/** Why the run ended, from its exit code (docs/errors.md). */
export type ExitReason = 'done' | 'step-failed' | 'bad-input' | 'needs-attention' | 'interrupted' | 'other';

/** The run summary. */
export interface RunSummary {
  readonly type: 'summary';
  readonly milestone: string;
  readonly exitCode: number;
  readonly exitReason: ExitReason;
  /** The first line of what the run said when it did not end with 0. */
  readonly message: string | null;
  readonly startedAt: string | null;
  readonly endedAt: string;
  readonly durationMs: number | null;
  readonly items: ReadonlyArray<{
    readonly issue: number;
    readonly title: string;
    readonly wave: number;
    readonly status: ItemStatus;
    readonly attempts: number;
    readonly durationMs: number | null;
    readonly costUsd: number | null;
    readonly turns: number | null;
    readonly tokens: Tokens | null;
    readonly merge: string | null;
    readonly failureCode: FailureCode | null;
  }>;
  /** Items by status. */
  readonly counts: Readonly<Partial<Record<ItemStatus, number>>>;
  /** Items, conflict and fix agents. */
  readonly costUsd: number;
  readonly tokens: Tokens;
  readonly gates: ReadonlyArray<{ readonly name: string; readonly phase: string; readonly exitCode: number }>;
  readonly followUps: readonly CreatedFollowUp[];
  readonly landed: string | null;
}

/** The reason an exit code stands for. */
export function exitReasonOf(code: number): ExitReason {
  switch (code) {
    case 0:
      return 'done';
    case 1:
      return 'step-failed';
    case 2:
      return 'bad-input';
    case 3:
      return 'needs-attention';
    case 130:
      return 'interrupted';
    default:
      return 'other';
  }
}

/** The summary of the run whose events end with `end` (`run-end`); `events` are this run's, from its `run-start`. */
export function buildRunSummary(
  plan: Plan,
  state: State,
  events: readonly StampedEvent[],
  end: { readonly exitCode: number; readonly message?: string; readonly t: string },
): RunSummary {
  const start = [...events].reverse().find((e) => e.type === 'run-start');
  const items = listItems(plan).map((item) => {
    const st = state.items[String(item.issue)];
    return {
      issue: item.issue,
      title: item.title,
      wave: item.wave,
      status: st?.status ?? ('pending' as const),
      attempts: st?.attempts ?? 0,
      durationMs: st?.result?.durationMs ?? null,
      // Every attempt's cost (retries included), as the run budget counts it; older state: the last attempt's.
      costUsd: st?.spentUsd ?? st?.result?.costUsd ?? null,
      turns: st?.result?.turns ?? null,
      tokens: tokensOf(st?.result?.usage),
      merge: st?.merge?.kind ?? null,
      failureCode: st?.failureCode ?? null,
    };
  });
  const counts: Partial<Record<ItemStatus, number>> = {};
  for (const i of items) counts[i.status] = (counts[i.status] ?? 0) + 1;
  const since = start ? events.slice(events.indexOf(start)) : events;
  return {
    type: 'summary',
    milestone: plan.milestone.id,
    exitCode: end.exitCode,
    exitReason: exitReasonOf(end.exitCode),
    message: end.message ? (end.message.split('\n')[0] ?? null) : null,
    startedAt: start?.t ?? null,
    endedAt: end.t,
    durationMs: start ? Math.max(0, Date.parse(end.t) - Date.parse(start.t)) : null,
    items,
    counts,
    costUsd:
      items.reduce((sum, i) => sum + (i.costUsd ?? 0), 0) +
      (state.sessions ?? []).reduce((sum, s) => sum + (s.costUsd ?? 0), 0),
    tokens: addTokens(items.map((i) => i.tokens)),
    gates: since.flatMap((e) => (e.type === 'gate' ? [{ name: e.name, phase: e.phase, exitCode: e.exitCode }] : [])),
    followUps: followUpsCreated(plan, state, events),
    landed: state.land?.mainAfter ?? null,
  };
}
