/** The context every step receives: no globals, everything passed in. */
import type { Backlog } from '../backlog/backlog.ts';
import type { HeldGitSetup } from '../guards/git-setup-guard.ts';
import type { Entry } from '../lib/command-words.ts';
import type { EventSink } from '../lib/events.ts';
import type { AgentKind, ExecutorSettings, LandMode, Plan, Schedule } from '../lib/plan/types.ts';
import type { RunLock } from '../lib/run-lock.ts';
import type { TreeStamp } from '../lib/tree-stamp.ts';
import type { StateStore } from '../lib/state.ts';

/** Flags of run/step that change behaviour (README, "Running a real milestone"). */
export interface RunOptions {
  readonly yes: boolean;
  readonly push: boolean;
  readonly agent: AgentKind | null;
  readonly agentCommand: string | null;
  readonly concurrency: number | null;
  readonly failFast: boolean;
  readonly adopt: boolean;
  readonly wave: number | null;
  readonly item: number | null;
  /** `--schedule`: overrides the plan's `defaults.schedule` for `run`. */
  readonly schedule: Schedule | null;
  /** `--land`: overrides the plan's `defaults.land`. */
  readonly land: LandMode | null;
  /** `--executor`: where every item's agent runs, over the plan's `executor` settings. */
  readonly executor?: ExecutorSettings['kind'] | null;
}

/** Options when nothing is given. */
export const DEFAULT_OPTIONS: RunOptions = {
  yes: false,
  push: true,
  agent: null,
  agentCommand: null,
  concurrency: null,
  failFast: false,
  adopt: false,
  wave: null,
  item: null,
  schedule: null,
  land: null,
};

/**
 * The git config the milestone trusts (guards/config-guard.ts): the keys (origin and a hash of the value: values may
 * hold tokens) and the stats of the files read.
 */
export interface TrustedConfig {
  readonly keys: Readonly<Record<string, readonly string[]>>;
  /** Every config file git reads here (and those it would read if they existed): path → stat key, or null. */
  readonly files: Readonly<Record<string, string | null>>;
}

/** The dependency folders' stamps trusted for the milestone (guards/dependency-guard.ts). */
export interface TrustedDependencies {
  /** When they were taken (ms since the epoch, read before the walk). */
  readonly at: number;
  /** Folder name (`node_modules`) → its stamp, or null when the user's checkout had none. */
  readonly folders: Readonly<Record<string, TreeStamp | null>>;
}

/** Everything a step needs. */
export interface Ctx {
  /** The user's checkout (never switched, never written but by `land` on a clean main). */
  readonly repo: string;
  readonly commonDir: string;
  readonly stateDir: string;
  readonly integrationWorktree: string;
  readonly plan: Plan;
  readonly options: RunOptions;
  readonly store: StateStore;
  readonly events: EventSink;
  readonly signal: AbortSignal;
  /** Environment handed to git and agents. */
  readonly env: NodeJS.ProcessEnv;
  /** Ask the user a yes/no question (prepare); false when there is no TTY. */
  readonly confirm: (question: string) => Promise<boolean>;
  /** The backlog rooted at a folder (the user's checkout before `branch`, the integration worktree after). */
  readonly openBacklog: (root: string) => Backlog;
  /** Folder of the package itself (for the scripted agent and schemas). */
  readonly packageRoot: string;
  /**
   * Whether the repository has the remote `origin`: the answer git gave the last time it was asked in this command
   * (branch, fetch and land all need it), or asked again with `fresh` (landing asks after the gates, which may
   * have removed it).
   */
  readonly hasOrigin: (fresh?: boolean) => Promise<boolean>;
  /**
   * The git config trusted for the milestone, as this command last read or recorded it (guards/config-guard.ts), the
   * dependency folders' stamps, and
   * the baseline of hooks and config files (guards/git-setup-guard.ts): held in memory, so a record an agent removes
   * or replaces on disk meanwhile is not taken for "nothing trusted" or "nothing changed".
   */
  readonly trusted: {
    config: TrustedConfig | null;
    /** The stamps of the dependency folders item worktrees link to (guards/dependency-guard.ts). */
    dependencies: TrustedDependencies | null;
    /** The integration worktree's own dependency folders as the gates left them (guards/shadow-folders.ts). */
    gatesDependencies: TrustedDependencies | null;
  } & HeldGitSetup;
  /** The run lock this command holds (none for `--dry-run`): checked before each operation on integration. */
  readonly runLock?: Pick<RunLock, 'check'>;
  /** How the user started the command: hints name commands in their words (`npx work-milestone run 7`). */
  readonly entry?: Entry;
}
