/** Dispatch plans for tests, written with `yaml.stringify` (docs/plan-format.md), never as hand-built YAML text. */
import { stringify } from 'yaml';

/** One item of a plan; `extra` holds more item keys (`timeout`, `retries`, `command`, …). */
export interface PlanItem {
  readonly issue: number;
  readonly title: string;
  readonly dependsOn?: readonly number[];
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A wave: its items, run in parallel unless `parallel` is false. */
export interface PlanWave {
  readonly items: readonly PlanItem[];
  readonly parallel?: boolean;
}

/** A whole plan. */
export interface PlanSpec {
  readonly milestone?: number | string;
  readonly title: string;
  readonly waves: readonly PlanWave[];
  /** The `defaults:` map. */
  readonly defaults?: Readonly<Record<string, unknown>>;
  /** The `quality-gates:` map. */
  readonly gates?: Readonly<Record<string, unknown>>;
  /** More top-level keys. */
  readonly top?: Readonly<Record<string, unknown>>;
}

/** The plan as YAML. */
export function planYaml(spec: PlanSpec): string {
  const m = spec.milestone ?? 7;
  // A number stays a number in YAML, as people write it.
  const milestone = typeof m === 'string' && /^\d+$/.test(m) ? Number(m) : m;
  return stringify({
    milestone: { number: milestone, title: spec.title },
    waves: spec.waves.map((w, i) => ({
      wave: i + 1,
      ...(w.parallel === undefined ? {} : { parallel: w.parallel }),
      items: w.items.map((it) => ({
        issue: it.issue,
        title: it.title,
        ...(it.dependsOn ? { 'depends-on': [...it.dependsOn] } : {}),
        ...it.extra,
      })),
    })),
    ...(spec.gates ? { 'quality-gates': spec.gates } : {}),
    ...(spec.defaults ? { defaults: spec.defaults } : {}),
    ...spec.top,
  });
}

/** `defaults:` of `command` agents: the shell `command`, no retries, a 30 s timeout, then `more`. */
export function commandDefaults(
  command: string,
  more: Readonly<Record<string, unknown>> = {},
): Readonly<Record<string, unknown>> {
  return { agent: 'command', retries: 0, timeout: '30s', command, ...more };
}
