/** The shape of `state.json` (docs/state.md); `schema/state.schema.json` checks it on every read. */
import type { AgentHandle } from './agent-handle.ts';

/** Life of an item in a run (docs/steps.md: spawn, wait, merge). */
export type ItemStatus =
  'pending' | 'in-progress' | 'complete' | 'partial' | 'failed' | 'skipped' | 'escalated' | 'ejected';

/** Statuses after which an item's agent work is over. */
export const TERMINAL_STATUSES: ReadonlySet<ItemStatus> = new Set([
  'complete',
  'partial',
  'failed',
  'skipped',
  'escalated',
  'ejected',
]);

/**
 * Why an item did not succeed, as a closed set a program can switch on (`failure` or `skipReason` says it in words):
 * - `guard`: the agent broke a guard (touched a protected path or git setup, checked out another branch);
 * - `agent-error`: the agent ended without a usable result (a non-zero exit, an error result, no final text);
 * - `timeout`: it ran past its timeout, and its process group was killed;
 * - `output-limit`: it printed more than its `max-output`, and its process group was killed;
 * - `lost`: its process died without leaving an exit code (killed from outside, the machine restarted);
 * - `no-report`: its final text has no STATUS line;
 * - `bad-report`: its STATUS is none of COMPLETE, PARTIAL, FAILED;
 * - `report-failed`: it reported FAILED;
 * - `no-commits`: it reported COMPLETE or PARTIAL but committed nothing on its branch;
 * - `dependency-failed`: skipped, a dependency failed, was skipped or escalated;
 * - `merge-escalated`: its branch could not be merged (heavy conflict, gates red after a fix) and went to a human;
 * - `gate-culprit`: the milestone's gates were red, a bisection found this item turns them red, no fix agent made them
 *   green: it was ejected from the integration branch (its branch kept) and the rest landed;
 * - `undone-by-fix`: escalated: a fix agent made the gates green by undoing its whole change with a commit of its own;
 *   its merge stays on the integration branch, undone, and it is not landed (its branch kept, its issue open).
 */
export const FAILURE_CODES = [
  'guard',
  'agent-error',
  'timeout',
  'output-limit',
  'lost',
  'no-report',
  'bad-report',
  'report-failed',
  'no-commits',
  'dependency-failed',
  'merge-escalated',
  'gate-culprit',
  'undone-by-fix',
] as const;

/** Why an item did not succeed: one of FAILURE_CODES. */
export type FailureCode = (typeof FAILURE_CODES)[number];

/** The agent's report as parsed from its final text (README, "Agents"). */
export interface ItemReport {
  /** `STATUS:`; null when the report has no valid one (the attempt then fails: bad-report). */
  readonly status: 'COMPLETE' | 'PARTIAL' | 'FAILED' | null;
  /** `BRANCH:` as the agent wrote it: a mismatch is flagged; git is always read from the item branch. */
  readonly branch: string | null;
  readonly filesChanged: readonly string[];
  readonly commits: readonly string[];
  /** `TASKS_BLOCKED:`: what the agent could not do (a PARTIAL item's follow-up lists it under Blocked Tasks). */
  readonly tasksBlocked: readonly string[];
  readonly notes: string;
}

/** A running agent process: enough to find it again after the runner died. */
export interface AgentProcess {
  readonly pid: number;
  readonly startTime: string;
  readonly startedAt: string;
  readonly attempt: number;
  readonly timeoutMs: number;
}

/** What one finished agent run produced, with git as the truth. */
export interface ItemResult {
  readonly report: ItemReport | null;
  readonly commits: ReadonlyArray<{ readonly sha: string; readonly subject: string }>;
  readonly files: readonly string[];
  readonly uncommitted: readonly string[];
  /** Where the report disagrees with git, or other warnings. */
  readonly flags: readonly string[];
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly sessionId: string | null;
  readonly usage: Readonly<Record<string, unknown>> | null;
  readonly denials: readonly string[];
  readonly durationMs: number;
}

/** How an item's branch reached integration (docs/steps.md, "Merging"). */
export interface ItemMerge {
  readonly kind: 'clean' | 'trivial' | 'medium' | 'heavy' | 'empty';
  /** Integration sha after the merge; null when escalated. */
  readonly sha: string | null;
  readonly files: readonly string[];
  readonly note: string;
  readonly followUp: number | null;
}

/** Everything the runner knows about one item. */
export interface ItemState {
  readonly issue: number;
  readonly wave: number;
  readonly status: ItemStatus;
  readonly attempts: number;
  /** Attempts made before this run's retry budget started (`run` again after a failure); absent = 0. */
  readonly attemptBase?: number;
  readonly branch: string | null;
  readonly worktree: string | null;
  readonly base: string | null;
  readonly process: AgentProcess | null;
  readonly failure: string | null;
  /** Why the item failed, was skipped or escalated, as a code; null or absent (state of older runs) when it did not. */
  readonly failureCode?: FailureCode | null;
  readonly skipReason: string | null;
  readonly result: ItemResult | null;
  readonly finishedAt: string | null;
  /** Order in which items finished, for the merge queue. */
  readonly finishSeq: number | null;
  readonly merge: ItemMerge | null;
  readonly followUps: readonly number[];
  /**
   * The item branch's tip when its attempt was judged (kept alive by `refs/work-milestone/<N>/items/<issue>`): the
   * merge queue merges this sha, never the branch name, so commits added later are ignored. Absent in older state.
   */
  readonly pinned?: string | null;
  /** The current attempt's agent, recorded before it starts (docs/executors.md); absent in older state. */
  readonly handle?: AgentHandle | null;
  /** What every attempt of the item cost in US dollars, as agents reported it (the run budget); absent = 0. */
  readonly spentUsd?: number;
  /**
   * A run's "needs attention" exit has named this item's escalation: later runs do not again. Absent while it has not
   * (a run killed after escalating it): the next run to end names it. Cleared whenever the item's status is set.
   */
  readonly reported?: boolean;
}

/** An item as fetched from the backlog, cached for the run. */
export interface CachedItem {
  readonly issue: number;
  readonly title: string;
  readonly source: string;
  readonly sections: Readonly<Record<string, string>>;
  readonly body: string;
  /** The backlog's labels and priority (absent in state of older runs). */
  readonly labels?: readonly string[];
  readonly priority?: string | null;
}

/** One gate run. */
export interface GateResult {
  readonly name: string;
  readonly phase: 'pre-merge' | 'post-merge';
  readonly exitCode: number;
  readonly durationMs: number;
  readonly log: string;
}

/** One conflict or fix agent run. */
export interface AgentSessionRecord {
  readonly role: 'conflict' | 'fix';
  readonly issue: number;
  readonly ok: boolean;
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly at: string;
  /** Correlation id `<milestone>-<issue>-<role>-<n>` (absent in older state). */
  readonly id?: string;
  /** Where it runs, recorded before it starts (absent in older state). */
  readonly handle?: AgentHandle;
  /** `dispatched` until the runner has used its result (`ended`); absent (older state) = ended. */
  readonly status?: 'dispatched' | 'ended';
  /** What it works on, to tell whether a re-attached result still applies (a conflict: `<integration> <item sha>`). */
  readonly key?: string;
  /** A conflict agent's edits kept while its merge is redone after a restart: file → blob sha, null when deleted. */
  readonly resolution?: Readonly<Record<string, string | null>> | null;
}

/** One candidate tip a bisection ran the red gates on (docs/bisection.md). */
export interface BisectProbe {
  /**
   * `prefix`: integration after the first `index` changes; `with-culprit`: that tip plus the culprit's change alone.
   */
  readonly mode: 'prefix' | 'with-culprit';
  readonly index: number;
  readonly sha: string;
  /** The items the candidate holds since the last green tip, in merge order. */
  readonly items: readonly number[];
  readonly green: boolean;
  /** The red gate's log, or null when the candidate could not be built (the culprit's change did not apply). */
  readonly log: string | null;
}

/** A bisection of red gates in progress: what it searches and what each probe said (kept across a crash). */
export interface Bisection {
  /** The red integration tip being explained, and the last tip known green. */
  readonly head: string;
  readonly base: string;
  /** The gates that were red on `head` (twice). */
  readonly gates: readonly string[];
  /**
   * First-parent changes of integration after `base`, oldest first, with the item each merged (null: another commit).
   */
  readonly changes: ReadonlyArray<{ readonly sha: string; readonly issue: number | null }>;
  readonly probes: readonly BisectProbe[];
}

/** Items ejected from the integration branch because they turned the gates red (docs/bisection.md). */
export interface Ejection {
  /** The culprit, or the two items that break the gates only together. */
  readonly issues: readonly number[];
  /** Items taken out with them: they depend on them, or their change did not apply without them. */
  readonly dropped: readonly number[];
  readonly gate: string;
  readonly log: string | null;
  /** Integration before and after (rebuilt without them). */
  readonly from: string;
  readonly to: string;
  /** The bisection that found them. */
  readonly probes: readonly BisectProbe[];
  readonly followUp: number | null;
  readonly at: string;
}

/** What the refs guard knows: the tips the runner set (integration) or last saw (main, origin's main). */
export interface RefsRecord {
  readonly integration: string | null;
  readonly main: string | null;
  readonly originMain: string | null;
  /** A runner operation on integration in flight (a crash inside it leaves it set): its start tip and name. */
  readonly pending: { readonly from: string; readonly op: string } | null;
  /** Commits on main nobody vouched for (an agent had main checked out): landing stops while main contains `to`. */
  readonly suspect?: { readonly from: string; readonly to: string; readonly reason: string } | null;
}

/** The whole state of one milestone. */
export interface State {
  readonly version: 1;
  readonly milestone: string;
  readonly plan: { readonly hash: string; readonly file: string; readonly validatedAt: string } | null;
  readonly prepare:
    | { readonly kind: 'clean'; readonly at: string }
    | { readonly kind: 'stashed'; readonly sha: string; readonly branch: string; readonly at: string }
    | null;
  readonly branch: {
    readonly name: string;
    readonly base: string;
    readonly worktree: string;
    readonly at: string;
  } | null;
  readonly cache: Readonly<Record<string, CachedItem>>;
  readonly items: Readonly<Record<string, ItemState>>;
  readonly relays: Readonly<Record<string, string>>;
  readonly gates: {
    readonly sha: string;
    readonly at: string;
    readonly results: readonly GateResult[];
    readonly fixAttempts: number;
    /** Gates that were red and then green on the same sha (absent in older state). */
    readonly flaky?: readonly string[];
  } | null;
  readonly land: {
    readonly mainBefore: string;
    readonly mainAfter: string;
    readonly integration: string;
    readonly pushed: boolean;
    readonly at: string;
  } | null;
  readonly complete: { readonly at: string; readonly report: string } | null;
  /** Monotonic counter for finishSeq. */
  readonly seq: number;
  /** Tips the runner set or saw last, checked before each merge, gate run and landing (absent in older state). */
  readonly refs?: RefsRecord;
  /** The landing commit made and about to become main (a crash after moving main still finds it). */
  readonly landing?: {
    readonly commit: string;
    readonly mainBefore: string;
    readonly integration: string;
    readonly at: string;
  } | null;
  /** Conflict-resolution and fix agents: what they cost (absent in state files of older runs). */
  readonly sessions?: ReadonlyArray<AgentSessionRecord>;
  /**
   * Fix agents at work on red gates (absent or null when none): the gates they were sent for, and each attempt's range
   * of the integration branch, from the tip it was given to the tip it left (null while it runs, or after a crash until
   * a run settles it). What they changed is judged by these ranges alone, never by what others committed meanwhile
   * (steps/gates.ts). Cleared when the gates are green, or by an ejection (which drops their commits).
   */
  readonly fixing?: {
    readonly gates: readonly string[];
    readonly ranges: ReadonlyArray<{ readonly from: string; readonly to: string | null }>;
  } | null;
  /** A bisection of red gates under way (absent or null when none). */
  readonly bisection?: Bisection | null;
  /** Items ejected from the integration branch by bisections, in order (absent in older state). */
  readonly ejections?: readonly Ejection[];
}

/** A fresh state for milestone `id`. */
export function emptyState(id: string): State {
  return {
    version: 1,
    milestone: id,
    plan: null,
    prepare: null,
    branch: null,
    cache: {},
    items: {},
    relays: {},
    gates: null,
    land: null,
    complete: null,
    seq: 0,
  };
}

/** A fresh item state. */
export function emptyItem(issue: number, wave: number): ItemState {
  return {
    issue,
    wave,
    status: 'pending',
    attempts: 0,
    branch: null,
    worktree: null,
    base: null,
    process: null,
    failure: null,
    skipReason: null,
    result: null,
    finishedAt: null,
    finishSeq: null,
    merge: null,
    followUps: [],
  };
}
