/** The normalised, read-only dispatch plan (docs/plan-format.md). */

/** Which agent adapter runs an item (README, "Agents"). */
export type AgentKind = 'claude' | 'codex' | 'command' | 'scripted';

/** An edit the `scripted` agent applies. */
export interface ScriptedEdit {
  readonly path: string;
  readonly content?: string;
  readonly append?: string;
  readonly replace?: string;
  readonly with?: string;
}

/** Agent settings: `defaults`, overridden per item. */
export interface AgentSettings {
  readonly agent: AgentKind;
  readonly model: string;
  readonly effort: string | null;
  readonly timeoutMs: number;
  /** What its stdout and stderr may hold together before it is stopped (`max-output`). */
  readonly maxOutputBytes: number;
  readonly retries: number;
  readonly command: string | null;
  readonly permissionMode: string;
  readonly allowedTools: readonly string[];
  readonly maxBudgetUsd: number | null;
  readonly agentArgs: readonly string[];
}

/** Where item agents run (docs/executors.md): this machine, or one GitHub Actions run per attempt. */
export interface ExecutorSettings {
  readonly kind: 'local' | 'github-actions' | 'kubernetes';
  /** github-actions: `owner/name`; null: read from the remote's URL. */
  readonly repo: string | null;
  /** github-actions: the workflow file (`init-workflow` writes it) and the ref GitHub reads it from. */
  readonly workflow: string;
  readonly ref: string;
  /** The git remote the runner and the remote jobs share (the integration branch and item branches go there). */
  readonly remote: string;
  /** Agents at once on this executor; null: the plan's concurrency (only the local one is also bounded by memory). */
  readonly concurrency: number | null;
  /** kubernetes: the image, namespace, Secret for the agent's environment (null: none), CPU and memory. */
  readonly image: string;
  readonly namespace: string;
  readonly secret: string | null;
  readonly cpu: string | null;
  readonly memory: string;
}

/** The `status` the seed's groomer writes on an item; informational, the runner's state is what counts. */
export type PlanItemStatus = 'pending' | 'in-progress' | 'complete' | 'failed' | 'skipped';

/** One item of a wave. */
export interface PlanItem {
  readonly issue: number;
  readonly title: string;
  readonly slug: string;
  readonly wave: number;
  readonly priority: string | null;
  readonly conflictGroup: string | null;
  readonly dependsOn: readonly number[];
  readonly settings: AgentSettings;
  /** Where its agent runs: `defaults.executor` with the item's `executor` over it (absent: the defaults'). */
  readonly executor?: ExecutorSettings;
  readonly edits: readonly ScriptedEdit[];
  /** The plan's `status` key, null when absent. */
  readonly planStatus?: PlanItemStatus | null;
}

/** A wave: items that run together (or one after another when not parallel). */
export interface PlanWave {
  readonly wave: number;
  readonly parallel: boolean;
  readonly items: readonly PlanItem[];
}

/** A quality gate command. */
export interface Gate {
  readonly name: string;
  readonly run: string;
  readonly files: readonly string[];
  readonly timeoutMs: number;
  /** What it may write to its log (`defaults.max-output`) before it is stopped. */
  readonly maxOutputBytes: number;
}

/** Where the backlog lives. */
export type BacklogConfig =
  { readonly kind: 'file'; readonly dir: string } | { readonly kind: 'github'; readonly repo: string | null };

/**
 * How items are scheduled (docs/plan-format.md, `schedule`): wave by wave, or each item when its dependencies merged.
 */
export type Schedule = 'waves' | 'dag';

/** How `main` gets the milestone (docs/plan-format.md, `land`): a direct fast-forward and push, or a pull request. */
export type LandMode = 'direct' | 'pull-request';

/** The whole normalised plan. */
export interface Plan {
  /** Path of the plan file relative to the repository, for messages. */
  readonly file: string;
  /** sha256 of the plan's text: `validate` records it. */
  readonly hash: string;
  readonly milestone: {
    readonly id: string;
    readonly title: string;
    readonly slug: string;
    readonly integrationBranch: string;
  };
  readonly conflictGroups: ReadonlyArray<{
    readonly id: string;
    readonly reason: string;
    readonly items: readonly string[];
  }>;
  readonly waves: readonly PlanWave[];
  readonly gates: { readonly preMerge: readonly Gate[]; readonly postMerge: readonly Gate[] };
  readonly defaults: AgentSettings & {
    readonly concurrency: number;
    readonly merge: 'merge' | 'squash';
    readonly schedule: Schedule;
    readonly land: LandMode;
    readonly maxFixAttempts: number;
    readonly promptTemplate: string | null;
    readonly worktreeRoot: string;
    readonly gateTimeoutMs: number;
    readonly executor: ExecutorSettings;
  };
  readonly backlog: BacklogConfig;
  /** The top-level `max-budget-usd`: what the whole run may spend (reported agent costs); null = unbounded. */
  readonly runBudgetUsd: number | null;
}

/** Every item of a plan, wave by wave. */
export function listItems(plan: Plan): readonly PlanItem[] {
  return plan.waves.flatMap((w) => w.items);
}

/** The item with this issue number, or undefined. */
export function findItem(plan: Plan, issue: number): PlanItem | undefined {
  return listItems(plan).find((i) => i.issue === issue);
}
