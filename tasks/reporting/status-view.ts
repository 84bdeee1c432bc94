/**
 * What `status` shows (docs/status.md), built from facts read elsewhere (`cli/status-facts.ts`): the runner, the steps
 * running, each item with its agent, red gates, what needs attention and the command that continues. Pure.
 */
import { commandLine, type Entry } from '../lib/command-words.ts';
import { assertNever } from '../lib/errors.ts';
import type { StampedEvent } from '../lib/events.ts';
import type { Plan } from '../lib/plan/types.ts';
import { listItems } from '../lib/plan/types.ts';
import type { FailureCode, ItemStatus, State } from '../lib/state-types.ts';
import { addTokens, tokensOf, type Tokens } from './tokens.ts';

/** The owner `run.lock` names, and whether that process still lives. */
export interface RunnerFacts {
  readonly pid: number;
  readonly command: string;
  readonly startedAt: string;
  readonly alive: boolean;
}

/**
 * An item's current agent as its run files show it: `running` (its process lives), `exited` (its exit code is
 * written: over, not judged yet), `gone` (its process died without an exit code), `not started` (no pid file yet, or
 * the item is pending), `ended` (the item is past its agent: judged, skipped, merged).
 */
export type AgentLife = 'running' | 'exited' | 'gone' | 'not started' | 'ended';

/** What the run files of an in-progress item's attempt show. */
export interface AgentFacts {
  readonly life: AgentLife;
  readonly pid: number | null;
  readonly exitCode: number | null;
  /** The last activity its output shows (`last-activity.ts`). */
  readonly activity: string | null;
  /** The adapter its handle names (a `--agent` override), when known. */
  readonly kind?: string;
}

/** A conflict or fix agent whose pid file says it runs. */
export interface SessionFacts {
  readonly name: string;
  readonly issue: number;
  readonly pid: number;
  readonly since: string;
}

/** Everything `status` reads, for `buildStatus`. */
export interface StatusFacts {
  readonly now: number;
  /** Whether the milestone ever ran (a state file, or one healed from its files). */
  readonly started: boolean;
  readonly stateDir: string;
  readonly runner: RunnerFacts | null;
  /** The end of events.jsonl. */
  readonly events: readonly StampedEvent[];
  /** Agents of in-progress items, by issue. */
  readonly agents: Readonly<Record<string, AgentFacts>>;
  readonly sessions: readonly SessionFacts[];
  /** Logs of gate runs, by `<sha>:<phase>:<name>`. */
  readonly gateLogs: Readonly<Record<string, string>>;
}

/** How the milestone stands, first match: see docs/status.md. */
export type Phase =
  | 'not started'
  | 'running'
  | 'gates red'
  | 'needs attention'
  | 'complete'
  | 'landed'
  | 'gates green'
  | 'stopped'
  | 'started';

/** One item as `status` shows it. */
export interface StatusItem {
  readonly wave: number;
  readonly issue: number;
  readonly title: string;
  readonly priority: string | null;
  readonly labels: readonly string[];
  readonly status: ItemStatus;
  /** The current (or last) attempt; 0 before the first. */
  readonly attempts: number;
  /** When its current attempt's agent started (in progress), else null. */
  readonly startedAt: string | null;
  /** How long its agent has run (in progress) or ran (its last judged attempt), in ms; null when unknown. */
  readonly elapsedMs: number | null;
  /** Its current agent (in progress only). */
  readonly agent: { readonly kind: string; readonly model: string } & AgentFacts;
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly tokens: Tokens | null;
  /** How it merged (`clean`, `trivial`, …), null before. */
  readonly merge: string | null;
  readonly failure: string | null;
  readonly failureCode: FailureCode | null;
  /** Backlog items made for it (PARTIAL remainder, escalated conflict). */
  readonly followUps: readonly number[];
  /** Where its current attempt runs when not on this machine: the run's page (or run-name), the Job; else null. */
  readonly remote: string | null;
}

/** A gate whose last run in the gates step was red. */
export interface RedGate {
  readonly name: string;
  readonly phase: 'pre-merge' | 'post-merge';
  readonly exitCode: number;
  readonly sha: string;
  readonly at: string;
  readonly log: string | null;
}

/** The last run the events show. */
export interface LastRun {
  readonly pid: number;
  readonly command: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly exitCode: number | null;
  readonly message: string | null;
}

/** The whole `status` (also `status --json`). */
export interface StatusView {
  readonly milestone: string;
  readonly title: string;
  readonly integrationBranch: string;
  readonly stateDir: string;
  readonly phase: Phase;
  /** The runner holding run.lock: attached (its process lives), or a stale lock; null without a lock. */
  readonly runner: {
    readonly attached: boolean;
    readonly pid: number;
    readonly command: string;
    readonly since: string;
  } | null;
  /** Graph nodes started and not ended in the attached runner's run (several at once in `dag`). */
  readonly steps: readonly string[];
  readonly lastRun: LastRun | null;
  readonly items: readonly StatusItem[];
  readonly sessions: readonly SessionFacts[];
  readonly gates: {
    /** The green gates recorded in state (sha, at, results, fix attempts), null before. */
    readonly green: State['gates'];
    readonly red: readonly RedGate[];
  };
  readonly land: State['land'];
  readonly complete: boolean;
  readonly attention: ReadonlyArray<{ readonly issue: number; readonly status: ItemStatus; readonly why: string }>;
  readonly costUsd: number;
  readonly tokens: Tokens;
  /** The command that continues, and why; null when nothing is to be done (running, or complete). */
  readonly next: string | null;
}

/** Events from the last `run-start` on (all of them when there is none). */
function lastRunEvents(events: readonly StampedEvent[]): readonly StampedEvent[] {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]?.type === 'run-start') return events.slice(i);
  return events;
}

function lastRunOf(events: readonly StampedEvent[]): LastRun | null {
  const start = events[0];
  if (start?.type !== 'run-start') return null;
  const end = events.find((e) => e.type === 'run-end');
  return {
    pid: start.pid,
    command: start.command,
    startedAt: start.t,
    endedAt: end?.t ?? null,
    exitCode: end?.type === 'run-end' ? end.exitCode : null,
    message: end?.type === 'run-end' ? (end.message?.split('\n')[0] ?? null) : null,
  };
}

/** Nodes started and not yet done, skipped or failed, in the order they started. */
function openSteps(events: readonly StampedEvent[]): string[] {
  const open = new Set<string>();
  for (const e of events) {
    if (e.type === 'step-start') open.add(e.node);
    else if (e.type === 'step-done' || e.type === 'step-skip' || e.type === 'step-failed') open.delete(e.node);
  }
  return [...open];
}

/** Red gates of the last gates step (its gate events; the item merges' own pre-merge gates come before it). */
function redGates(events: readonly StampedEvent[], state: State, logs: StatusFacts['gateLogs']): RedGate[] {
  let from = -1;
  events.forEach((e, i) => {
    if (e.type === 'step-start' && e.node === 'gates') from = i;
  });
  if (from < 0) return [];
  const last = new Map<string, RedGate>();
  for (const e of events.slice(from)) {
    if (e.type !== 'gate') continue;
    const key = `${e.phase}:${e.name}`;
    if (e.exitCode === 0) last.delete(key);
    else
      last.set(key, {
        name: e.name,
        phase: e.phase,
        exitCode: e.exitCode,
        sha: e.sha,
        at: e.t,
        log: logs[`${e.sha}:${e.phase}:${e.name}`] ?? null,
      });
  }
  // Green recorded since (by this run's fix agent, or a later run) supersedes them.
  const green = state.gates?.at;
  return [...last.values()].filter((g) => !green || Date.parse(green) < Date.parse(g.at));
}

/** Backlog items made for an item: state's, or (state rebuilt without them) the events'. */
function followUpsOf(state: State, events: readonly StampedEvent[], issue: number): number[] {
  const st = state.items[String(issue)];
  const found = new Set<number>([...(st?.followUps ?? []), ...(st?.merge?.followUp ? [st.merge.followUp] : [])]);
  for (const e of events) {
    if (e.type !== 'item' || e.issue !== issue || e.status !== 'escalated') continue;
    const m = /\(backlog item #(\d+)\)$/.exec(e.detail ?? '');
    if (m) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

const NO_AGENT: AgentFacts = { life: 'not started', pid: null, exitCode: null, activity: null };

/** Why an item needs attention, on one line. */
function whyOf(state: State, issue: number): string {
  const st = state.items[String(issue)];
  const text =
    st?.status === 'escalated'
      ? `${st.merge?.note || 'merge conflict'}${st.merge?.followUp ? ` (backlog item #${st.merge.followUp})` : ''}`
      : (st?.failure ?? st?.skipReason ?? st?.status ?? '');
  return text.split('\n')[0] ?? '';
}

function phaseOf(input: {
  started: boolean;
  attached: boolean;
  state: State;
  red: boolean;
  attention: boolean;
}): Phase {
  const { started, attached, state, red, attention } = input;
  if (!started) return 'not started';
  if (attached) return 'running';
  if (red) return 'gates red';
  if (attention) return 'needs attention';
  if (state.complete) return 'complete';
  if (state.land) return 'landed';
  if (state.gates) return 'gates green';
  return state.branch ? 'stopped' : 'started';
}

function nextOf(view: Omit<StatusView, 'next'>, entry: Entry | undefined): string | null {
  const run = commandLine(entry, 'run', [view.milestone]);
  switch (view.phase) {
    case 'not started':
      return `${run} starts it`;
    case 'running':
    case 'complete':
      return null;
    case 'gates red':
      return (
        `fix it in worktrees/milestone-${view.milestone} and commit, then \`${run} --adopt\`; ` +
        `or \`${run}\` gives fix agents another try`
      );
    case 'needs attention':
      return view.attention.some((a) => a.status !== 'escalated')
        ? `fix the cause, then \`${run}\`: it retries the failed and skipped items and lands them`
        : view.complete
          ? 'resolve the escalated items by hand or in the next milestone (a conflict is a backlog item; an item a ' +
            'fix agent undid stays open)'
          : `\`${run}\` lands what merged; escalated items keep their branches (a conflict is a backlog item; an ` +
            'item a fix agent undid stays open)';
    case 'landed':
    case 'gates green':
    case 'stopped':
    case 'started':
      return `\`${run}\` continues (re-attaching to live agents)`;
    default:
      return assertNever(view.phase);
  }
}

/** The status of a milestone. */
/** `entry`: how the user started the tool, so the next command is said in their words. */
export function buildStatus(plan: Plan, state: State, facts: StatusFacts, entry?: Entry): StatusView {
  const events = lastRunEvents(facts.events);
  const lastRun = lastRunOf(events);
  const attached = facts.runner?.alive === true;
  const items = listItems(plan).map((item): StatusItem => {
    const st = state.items[String(item.issue)];
    const cached = state.cache[String(item.issue)];
    const status = st?.status ?? 'pending';
    const running = status === 'in-progress';
    const startedAt = running ? (st?.process?.startedAt ?? null) : null;
    const elapsedMs = startedAt ? Math.max(0, facts.now - Date.parse(startedAt)) : (st?.result?.durationMs ?? null);
    return {
      wave: item.wave,
      issue: item.issue,
      title: item.title,
      priority: item.priority ?? cached?.priority ?? null,
      labels: cached?.labels ?? [],
      status,
      attempts: st?.attempts ?? 0,
      startedAt,
      elapsedMs,
      agent: {
        kind: item.settings.agent,
        model: item.settings.model,
        ...(running
          ? (facts.agents[String(item.issue)] ?? NO_AGENT)
          : status === 'pending'
            ? NO_AGENT
            : { ...NO_AGENT, life: 'ended' as const }),
      },
      // Every attempt's cost (retries included), as the run budget counts it; older state: the last attempt's.
      costUsd: st?.spentUsd ?? st?.result?.costUsd ?? null,
      turns: st?.result?.turns ?? null,
      tokens: tokensOf(st?.result?.usage),
      merge: st?.merge?.kind ?? null,
      failure: st?.failure ?? st?.skipReason ?? null,
      failureCode: st?.failureCode ?? null,
      followUps: followUpsOf(state, facts.events, item.issue),
      remote:
        st?.handle?.kind === 'github-actions'
          ? (st.handle.url ?? `run ${st.handle.id}`)
          : st?.handle?.kind === 'kubernetes'
            ? `job ${st.handle.namespace}/${st.handle.job}`
            : null,
    };
  });
  const attention = items
    .filter(
      (i) => i.status === 'failed' || i.status === 'skipped' || i.status === 'escalated' || i.status === 'ejected',
    )
    .map((i) => ({ issue: i.issue, status: i.status, why: whyOf(state, i.issue) }));
  const red = redGates(events, state, facts.gateLogs);
  const costUsd =
    items.reduce((sum, i) => sum + (i.costUsd ?? 0), 0) +
    (state.sessions ?? []).reduce((sum, s) => sum + (s.costUsd ?? 0), 0);
  const view: Omit<StatusView, 'next'> = {
    milestone: plan.milestone.id,
    title: plan.milestone.title,
    integrationBranch: plan.milestone.integrationBranch,
    stateDir: facts.stateDir,
    phase: phaseOf({
      started: facts.started,
      attached,
      state,
      red: red.length > 0,
      attention: attention.length > 0,
    }),
    runner: facts.runner
      ? { attached, pid: facts.runner.pid, command: facts.runner.command, since: facts.runner.startedAt }
      : null,
    steps: attached && lastRun?.pid === facts.runner?.pid ? openSteps(events) : [],
    lastRun,
    items,
    sessions: facts.sessions,
    gates: { green: state.gates, red },
    land: state.land,
    complete: state.complete !== null,
    attention,
    costUsd,
    tokens: addTokens(items.map((i) => i.tokens)),
  };
  return { ...view, next: nextOf(view, entry) };
}
