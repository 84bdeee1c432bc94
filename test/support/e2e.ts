/** What the end-to-end tests of the real agent CLIs (claude, codex) share. */
import * as assert from 'uvu/assert';
import type { CliResult } from './cli.ts';
import { git, parentsOf } from './fixture.ts';
import { planYaml, type PlanItem } from './plan.ts';

/** `defaults:` of a plan whose agents are the real claude CLI, as docs/claude-cli.md says works offline as root. */
export const CLAUDE_PLAN_DEFAULTS: Readonly<Record<string, unknown>> = {
  agent: 'claude',
  'permission-mode': 'default',
  'allowed-tools': ['Bash', 'Edit', 'Write', 'Read'],
  timeout: '2m',
  retries: 1,
  concurrency: 2,
};

/** A groomed plan of parallel `waves` (items with no dependencies unless said) whose agents are the real claude CLI. */
export function claudePlan(
  title: string,
  waves: ReadonlyArray<readonly PlanItem[]>,
  gates?: Readonly<Record<string, unknown>>,
): string {
  return planYaml({
    title,
    top: { groomed: true },
    waves: waves.map((items) => ({ parallel: true, items: items.map((i) => ({ dependsOn: [], ...i })) })),
    gates,
    defaults: CLAUDE_PLAN_DEFAULTS,
  });
}

/** Whether WM_KEEP asks to keep the repositories of a run for a look afterwards. */
export const keepRequested = (): boolean => Boolean(process.env.WM_KEEP);

/** A CLI result's exit and the tails of its output, for assertion messages. */
export const describeRun = (r: CliResult): string =>
  `exit ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;

/** Every `Merge #N: …` commit reachable from `rev` has two parents; their subjects, newest first. */
export async function assertMergesHaveTwoParents(dir: string, rev: string): Promise<string[]> {
  const merges = (await git(dir, 'log', '--format=%H %s', '--grep', '^Merge #', rev)).split('\n').filter(Boolean);
  for (const line of merges) assert.is((await parentsOf(dir, line.slice(0, 40))).length, 2, `${line} has 2 parents`);
  return merges.map((l) => l.slice(41));
}
