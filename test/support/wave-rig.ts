/** Helpers of the wave-execution tests: plans with `command` agents written in sh, the CLI per step. */
import { parse as parseYaml } from 'yaml';
import { runMilestone, runStep, type CliResult } from './cli.ts';
import { COMMITTING_AGENT, type ItemSpec, type TestRepo } from './fixture.ts';
import { planYaml } from './plan.ts';

export { show } from './cli.ts';
export { killProcessesWith, killRecordedAgents, processesWith } from './processes.ts';
export { linesOf, waitFor } from './wait.ts';

/** More plan keys: a map, or (older callers) YAML text of one. */
export type PlanKeys = Readonly<Record<string, unknown>> | string;

/** One item of a generated plan. */
export interface RigItem {
  readonly issue: number;
  readonly title: string;
  readonly dependsOn?: readonly number[];
  /**
   * Extra plan keys of the item (`{timeout: '2s', retries: 1}`; as text, YAML flow text: `timeout: 2s, retries: 1`).
   */
  readonly extra?: PlanKeys;
}

/** `keys` as a map; `flow` text is the inside of a flow map (`a: 1, b: 2`), other text a block map. */
export function keysOf(keys: PlanKeys | undefined, flow: boolean): Readonly<Record<string, unknown>> {
  if (keys === undefined) return {};
  if (typeof keys !== 'string') return keys;
  return (parseYaml(flow ? `{${keys}}` : keys) ?? {}) as Record<string, unknown>;
}

/**
 * A plan of milestone 7 titled "Wave rig" with `command` agents: `extra` replaces the default `timeout: 30s,
 * retries: 0` of the defaults map; `top` adds top-level keys (`quality-gates`, …).
 */
export function rigPlan(
  waves: ReadonlyArray<readonly RigItem[]>,
  defaults: { command: string; extra?: PlanKeys; top?: PlanKeys; serial?: boolean },
): string {
  return planYaml({
    title: 'Wave rig',
    waves: waves.map((items) => ({
      parallel: !defaults.serial,
      items: items.map((it) => ({ ...it, dependsOn: it.dependsOn ?? [], extra: keysOf(it.extra, true) })),
    })),
    defaults: {
      agent: 'command',
      command: defaults.command,
      ...keysOf(defaults.extra ?? { timeout: '30s', retries: 0 }, false),
    },
    top: keysOf(defaults.top, false),
  });
}

/** The backlog items of a rig plan. */
export function rigItems(waves: ReadonlyArray<readonly RigItem[]>): ItemSpec[] {
  return waves.flat().map((i) => ({ issue: i.issue, title: i.title }));
}

/** A committing agent that first appends one line to `$COUNTER` (a file outside the repo): counts agent starts. */
export const COUNTING_AGENT = `echo "$WM_ISSUE" >> "$COUNTER"; ${COMMITTING_AGENT}`;

/** `step.mts <step> 7 --repo <dir> …` */
export function step(
  repo: TestRepo,
  name: string,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  return runStep(repo, name, extra, { env, timeoutMs: 60_000 });
}

/** `run.mts 7 --repo <dir> --no-push …` */
export function run(
  repo: TestRepo,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  return runMilestone(repo, ['--no-push', ...extra], { env, timeoutMs: 80_000 });
}

/**
 * The most agents alive at once, from `start <ns>` / `end <ns>` lines the agents appended (ends sort before starts at a
 * tie).
 */
export function maxOverlap(lines: readonly string[]): number {
  const events = lines.map((l) => {
    const [kind, ns] = l.split(' ');
    return { t: BigInt(ns ?? '0'), d: kind === 'start' ? 1 : -1 };
  });
  events.sort((a, b) => (a.t === b.t ? a.d - b.d : a.t < b.t ? -1 : 1));
  let alive = 0;
  let max = 0;
  for (const e of events) max = Math.max(max, (alive += e.d));
  return max;
}
