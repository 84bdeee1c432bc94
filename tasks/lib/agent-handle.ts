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

/** Serialisable JSON written to state before the agent can start; one kind per executor. */
export type AgentHandle = LocalHandle;
