/**
 * Where and how an agent's process runs (docs/executors.md). Adapters (`tasks/agents/*`) say what to run; an executor
 * runs it and finds it again: every agent — item, conflict, fix — is dispatched, polled, collected and cancelled here.
 */
import type { AgentOutcome, AgentRole, LaunchSpec } from '../agents/types.ts';
import type { AgentHandle } from '../lib/agent-handle.ts';
import type { AgentKind, ExecutorSettings } from '../lib/plan/types.ts';

export type { AgentHandle, GithubActionsHandle, LocalHandle } from '../lib/agent-handle.ts';

/** The kinds of executor there are. */
export type ExecutorKind = AgentHandle['kind'];

/** Where a dispatched agent stands. */
export type AgentStatus =
  /** Accepted, not started yet (an executor with a queue; the local one starts at once). */
  | { readonly state: 'queued' }
  /**
   * Its process runs; `pid` where the executor has one, `startedAt` as ISO time; `outputBytes`: what it has printed so
   * far (stdout and stderr together), where the executor can tell.
   */
  | {
      readonly state: 'running';
      readonly pid: number | null;
      readonly startedAt: string;
      readonly outputBytes?: number;
    }
  /** Ended; `outputBytes` as for `running` (an agent can print past its limit between two looks, then exit). */
  | { readonly state: 'succeeded'; readonly outputBytes?: number }
  | { readonly state: 'failed'; readonly exitCode: number; readonly outputBytes?: number }
  /** Stopped through `cancel` (run --stop, a second Ctrl-C, a timeout). */
  | { readonly state: 'cancelled' }
  /** Gone without a result (killed, machine rebooted) or never started: it is run again. */
  | {
      readonly state: 'lost';
      readonly reason: string;
      /** Given up for printing more than `max-output`: no result of it counts, even one it wrote. */
      readonly overLimit?: boolean;
    };

/** What one agent run is: who it is, what to run, where. */
export interface DispatchSpec {
  /** Correlation id (`correlationId`). */
  readonly id: string;
  readonly agent: AgentKind;
  readonly launch: LaunchSpec;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Where its files go, and the name they share (`item-2`, `conflict-1`). */
  readonly dir: string;
  readonly name: string;
  /** An item run by a remote executor: where its commits start and go. */
  readonly remote?: RemoteTarget;
}

/** What a remote executor needs beyond the launch: the item's git and its settings. */
export interface RemoteTarget {
  readonly executor: ExecutorSettings;
  readonly milestone: string;
  readonly issue: number;
  readonly attempt: number;
  /** The item branch (the job pushes it), its base commit, and the integration branch the runner pushes first. */
  readonly branch: string;
  readonly base: string;
  readonly integrationBranch: string;
  readonly timeoutMs: number;
}

/** What an ended agent left: its exit code (null: no result: lost, cancelled) and its parsed, bounded outcome. */
export interface AgentRunResult {
  readonly exitCode: number | null;
  readonly outcome: AgentOutcome;
  /** Processes it left running outside its process group (`setsid`), stopped when it was collected. */
  readonly left?: readonly LeftProcess[];
}

/** A process an agent left running that the runner stopped. */
export interface LeftProcess {
  readonly pid: number;
  /** Its command name (at most 15 characters). */
  readonly command: string;
}

/** One way of running agents. */
export interface Executor {
  readonly kind: ExecutorKind;
  /**
   * Start an agent. `record(handle)` is awaited before anything starts: the caller writes the handle to state there,
   * so a crash can leave a recorded handle without a process (polled as `lost`, run again) but never a process
   * without a recorded handle. A remote executor calls it again with the same `id` once the remote id is known:
   * the caller replaces the handle.
   */
  dispatch(spec: DispatchSpec, record: (handle: AgentHandle) => Promise<void>): Promise<AgentHandle>;
  poll(handle: AgentHandle): Promise<AgentStatus>;
  /** The result of an agent that is no longer running (lost or cancelled: a failed outcome without exit code). */
  collect(handle: AgentHandle): Promise<AgentRunResult>;
  /** Stop it (and whatever it started); resolves when nothing of it is left. Later polls say `cancelled`. */
  cancel(handle: AgentHandle): Promise<void>;
  /**
   * Optional: a promise that resolves when the agent ends, for agents this process started and still waits on (null
   * otherwise): a waiter wakes then instead of at its next poll. `poll` stays the truth.
   */
  ended?(handle: AgentHandle): Promise<void> | null;
}

/** `<milestone>-<issue>-<role>-<attempt>`: names one agent run across runners, logs and executors. */
export function correlationId(milestone: string, issue: number, role: AgentRole, attempt: number): string {
  return `${milestone}-${issue}-${role}-${attempt}`;
}

/** Whether the agent has ended (whatever the result). */
export function isEnded(status: AgentStatus): boolean {
  switch (status.state) {
    case 'queued':
    case 'running':
      return false;
    case 'succeeded':
    case 'failed':
    case 'cancelled':
    case 'lost':
      return true;
  }
}
