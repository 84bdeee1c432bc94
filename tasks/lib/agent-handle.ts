/** The handle of a dispatched agent as state keeps it (its executor: tasks/executors/types.ts; docs/executors.md). */
import type { AgentKind } from './plan/types.ts';

/**
 * A dispatched agent on this machine: its run files are `<dir>/<name>.{pid,exit,stdout,stderr}` (pid file written
 * first, exit file `<code> <pid>` last), so nothing but the handle is needed to find it after the runner died.
 */
export interface LocalHandle {
  readonly kind: 'local';
  /** Correlation id: `<milestone>-<issue>-<role>-<attempt>`. */
  readonly id: string;
  /** The adapter that parses its output. */
  readonly agent: AgentKind;
  readonly dir: string;
  readonly name: string;
}

/**
 * An item's agent as a GitHub Actions workflow run (tasks/executors/github-actions/): recorded before the dispatch
 * with `runId` null, again once the run id is known. A runner that died in between finds the run by its run-name,
 * which holds the correlation id. `dir`/`name` are where its downloaded output is kept, as a local run's.
 */
export interface GithubActionsHandle {
  readonly kind: 'github-actions';
  readonly id: string;
  readonly agent: AgentKind;
  readonly dir: string;
  readonly name: string;
  /** `owner/name`, the API base it was dispatched through, the workflow file and the ref it was read from. */
  readonly repo: string;
  readonly apiUrl: string;
  readonly workflow: string;
  readonly ref: string;
  /** The git remote both sides share, the item branch the job pushes, the worktree it is fetched into. */
  readonly remote: string;
  readonly branch: string;
  readonly worktree: string;
  readonly base: string;
  /** When the dispatch was recorded (ISO): runs created before it are an earlier attempt's. */
  readonly dispatchedAt: string;
  readonly runId: number | null;
  /** The run's page (`status` shows it). */
  readonly url: string | null;
}

/**
 * An item's agent as a Kubernetes Job (tasks/executors/kubernetes/): its name is the correlation id made DNS-1123,
 * known before it is applied, so a runner that died finds it by name. `dir`/`name` keep its result on this machine.
 */
export interface KubernetesHandle {
  readonly kind: 'kubernetes';
  readonly id: string;
  readonly agent: AgentKind;
  readonly dir: string;
  readonly name: string;
  /** The Job and its namespace (`status` shows them). */
  readonly job: string;
  readonly namespace: string;
  readonly remote: string;
  readonly branch: string;
  readonly worktree: string;
  readonly base: string;
  readonly dispatchedAt: string;
}

/** Serialisable JSON written to state before the agent can start; one kind per executor. */
export type AgentHandle = LocalHandle | GithubActionsHandle | KubernetesHandle;
