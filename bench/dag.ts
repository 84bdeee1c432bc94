/**
 * `--schedule dag` against `waves` on a skewed milestone: wave 1 has one 6 s item and three 1 s items; wave 2 has
 * three 4 s items, each depending on one fast item of wave 1. Agents are `command` agents that sleep, then commit.
 * Runs alternate (waves, dag, waves, dag, …) so both see the same machine load; each schedule's makespan is the
 * median of RUNS, measured from events.jsonl: first agent start to last merge (what the schedules change; the
 * validate … branch and gates … complete ends are the same for both). The critical-path bound is the longest chain of
 * agent durations along `depends-on`, with no runner overhead: 6 s here, 10 s for waves (6 s, then 4 s).
 * Target: dag within 10 % of the bound, and at least 1.5× faster than waves.
 * Run: node --import tsx bench/dag.ts [RUNS]   (default 3)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { COMMITTING_AGENT, makeRepo, runCli } from '../test/support/fixture.ts';

const RUNS = Number(process.argv[2] ?? 3);

/** Seconds each item's agent sleeps, and what it depends on. */
const ITEMS: ReadonlyArray<{ issue: number; wave: number; seconds: number; dependsOn: number[] }> = [
  { issue: 1, wave: 1, seconds: 6, dependsOn: [] },
  { issue: 2, wave: 1, seconds: 1, dependsOn: [] },
  { issue: 3, wave: 1, seconds: 1, dependsOn: [] },
  { issue: 4, wave: 1, seconds: 1, dependsOn: [] },
  { issue: 5, wave: 2, seconds: 4, dependsOn: [2] },
  { issue: 6, wave: 2, seconds: 4, dependsOn: [3] },
  { issue: 7, wave: 2, seconds: 4, dependsOn: [4] },
];

const AGENT = `case "$WM_ISSUE" in ${ITEMS.map((i) => `${i.issue}) sleep ${i.seconds};;`).join(' ')} esac; ${COMMITTING_AGENT}`;

const PLAN = `milestone: {number: 7, title: "Dag bench"}
waves:
${[1, 2]
  .map(
    (w) =>
      `  - wave: ${w}\n    items:\n${ITEMS.filter((i) => i.wave === w)
        .map((i) => `      - {issue: ${i.issue}, title: "Item ${i.issue}", depends-on: [${i.dependsOn.join(', ')}]}`)
        .join('\n')}`,
  )
  .join('\n')}
defaults: {agent: command, command: ${JSON.stringify(AGENT)}, timeout: 60s, retries: 0, concurrency: ${ITEMS.length}}
`;

/** The longest chain of agent seconds along `depends-on` (no runner overhead). */
function criticalPath(): number {
  const memo = new Map<number, number>();
  const chain = (issue: number): number => {
    const item = ITEMS.find((i) => i.issue === issue);
    if (!item) return 0;
    const known = memo.get(issue);
    if (known !== undefined) return known;
    const value = item.seconds + Math.max(0, ...item.dependsOn.map(chain));
    memo.set(issue, value);
    return value;
  };
  return Math.max(...ITEMS.map((i) => chain(i.issue)));
}

/** The same bound when waves are barriers: each wave lasts as long as its slowest item. */
function wavesBound(): number {
  return [1, 2].reduce((sum, w) => sum + Math.max(...ITEMS.filter((i) => i.wave === w).map((i) => i.seconds)), 0);
}

/** One run of the milestone under `schedule`: seconds from the first agent start to the last merge. */
async function makespan(schedule: 'waves' | 'dag'): Promise<number> {
  const repo = await makeRepo({
    plan: PLAN,
    items: ITEMS.map((i) => ({ issue: i.issue, title: `Item ${i.issue}` })),
  });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir, '--no-push', '--schedule', schedule], {
      timeoutMs: 180_000,
    });
    if (r.code !== 0) throw new Error(`${schedule} run exited ${r.code}: ${r.stderr}`);
    const events = readFileSync(path.join(repo.stateDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { t: string; type: string });
    const times = (type: string) => events.filter((e) => e.type === type).map((e) => Date.parse(e.t));
    return (Math.max(...times('merge')) - Math.min(...times('agent-spawned'))) / 1000;
  } finally {
    repo.cleanup();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const samples: Record<'waves' | 'dag', number[]> = { waves: [], dag: [] };
for (let i = 0; i < RUNS; i++) {
  for (const schedule of ['waves', 'dag'] as const) samples[schedule].push(await makespan(schedule));
}
const waves = median(samples.waves);
const dag = median(samples.dag);
const bound = criticalPath();
const fmt = (s: number) => `${s.toFixed(2)} s`;
console.log(`skewed milestone: ${ITEMS.length} items, medians of ${RUNS} (first agent start → last merge)`);
console.log(`  waves makespan  ${fmt(waves)}   (runs: ${samples.waves.map(fmt).join(', ')}; bound ${wavesBound()} s)`);
console.log(`  dag makespan    ${fmt(dag)}   (runs: ${samples.dag.map(fmt).join(', ')})`);
console.log(`  critical path   ${fmt(bound)}`);
console.log(`  dag / bound     ${(dag / bound).toFixed(3)}   (target ≤ 1.10)`);
console.log(`  waves / dag     ${(waves / dag).toFixed(2)}×   (target ≥ 1.5×)`);
