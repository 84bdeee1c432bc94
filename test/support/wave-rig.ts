/** Helpers of the wave-execution tests: plans with `command` agents written in sh, the CLI per step, polling. */
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { COMMITTING_AGENT, runCli, type CliResult, type ItemSpec, type TestRepo } from './fixture.ts';

/** One item of a generated plan. */
export interface RigItem {
  readonly issue: number;
  readonly title: string;
  readonly dependsOn?: readonly number[];
  /** Extra plan keys of the item, as YAML flow text (`timeout: 2s, retries: 1`). */
  readonly extra?: string;
}

/** A plan of milestone 7 with `command` agents; `defaults` is YAML flow text added to the defaults map. */
export function rigPlan(
  waves: ReadonlyArray<readonly RigItem[]>,
  defaults: { command: string; extra?: string; top?: string; serial?: boolean },
): string {
  const lines = ['milestone: {number: 7, title: "Wave rig"}', 'waves:'];
  waves.forEach((items, i) => {
    lines.push(`  - wave: ${i + 1}`, `    parallel: ${defaults.serial ? 'false' : 'true'}`, '    items:');
    for (const it of items) {
      const deps = `[${(it.dependsOn ?? []).join(', ')}]`;
      lines.push(
        `      - {issue: ${it.issue}, title: ${JSON.stringify(it.title)}, depends-on: ${deps}${it.extra ? `, ${it.extra}` : ''}}`,
      );
    }
  });
  lines.push('defaults:', '  agent: command', `  command: ${JSON.stringify(defaults.command)}`);
  for (const l of (defaults.extra ?? 'timeout: 30s\nretries: 0').split('\n')) lines.push(`  ${l}`);
  if (defaults.top) lines.push(defaults.top);
  return `${lines.join('\n')}\n`;
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
  return runCli('step', [name, '7', '--repo', repo.dir, ...extra], { env, timeoutMs: 60_000 });
}

/** `run.mts 7 --repo <dir> --no-push …` */
export function run(
  repo: TestRepo,
  extra: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
): Promise<CliResult> {
  return runCli('run', ['7', '--repo', repo.dir, '--no-push', ...extra], { env, timeoutMs: 80_000 });
}

/** Lines of a file (none when it does not exist). */
export function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Poll `probe` until it returns a value (not undefined/false), or throw after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Processes whose command line contains `marker`, as `pid pgid args` lines (this ps and grep excluded). */
export function processesWith(marker: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,pgid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(marker) && !/\bps -eo\b/.test(l));
}

/** A message for assertions that failed on a CLI result. */
export function show(r: CliResult): string {
  return `exit ${r.code} (signal ${r.signal})\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The most agents alive at once, from `start <ns>` / `end <ns>` lines the agents appended (ends sort before starts at a tie). */
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

/** An agent that logs `start`/`end` times to `$TIMES`, sleeps `seconds` in between, then commits. */
export function timedAgent(seconds: number): string {
  return `echo "start $(date +%s%N)" >> "$TIMES"; sleep ${seconds}; echo "end $(date +%s%N)" >> "$TIMES"; ${COMMITTING_AGENT}`;
}

/** Kill (SIGKILL, by pid) every process whose command line contains `marker`: a failed test leaves none behind. */
export function killProcessesWith(marker: string): void {
  for (const line of processesWith(marker)) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    try {
      if (pid > 1 && pid !== process.pid) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** SIGKILL the process groups of agents recorded as running in state.json (cleanup after a failed test). */
export function killRecordedAgents(stateFile: string): void {
  if (!existsSync(stateFile)) return;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    items: Record<string, { process: { pid: number } | null }>;
  };
  for (const it of Object.values(state.items)) {
    try {
      if (it.process && it.process.pid > 1) process.kill(-it.process.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
