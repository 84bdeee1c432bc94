/**
 * Command startup on a 500-item milestone (50 waves of 10): wall time of `plan 7` and `status 7` as child processes
 * (node + tsx + the command's modules + the work), medians of 5, with a state.json of 500 finished items for
 * `status`. Targets: plan < 1 s, status < 0.5 s. Also the modules each command loads (import() times in-process).
 * Run: node --import tsx bench/startup.ts
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStateStore } from '../tasks/lib/state.ts';
import { emptyItem } from '../tasks/lib/state-types.ts';
import { updateItem } from '../tasks/lib/state-items.ts';
import { cliEnv, makeRepo, ROOT } from '../test/support/fixture.ts';
import { itemResult } from '../test/support/state-builders.ts';

const WAVES = 50;
const PER_WAVE = 10;
const issues = Array.from({ length: WAVES * PER_WAVE }, (_, i) => i + 1);
const plan = `milestone: {number: 7, title: "Startup"}
waves:
${Array.from(
  { length: WAVES },
  (_, w) =>
    `  - wave: ${w + 1}\n    items:\n${issues
      .slice(w * PER_WAVE, (w + 1) * PER_WAVE)
      .map(
        (i) =>
          `      - {issue: ${i}, title: "Item ${i} of wave ${w + 1}", depends-on: ${w > 0 ? `[${i - PER_WAVE}]` : '[]'}}`,
      )
      .join('\n')}`,
).join('\n')}
defaults: {agent: command, command: "true"}
`;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function timeCommand(script: string, cwd: string): number {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const out = spawnSync(process.execPath, ['--import', tsx, path.join(ROOT, 'scripts', `${script}.mts`), '7'], {
      cwd,
      env: cliEnv(),
      encoding: 'utf8',
    });
    runs.push(performance.now() - start);
    if (out.status !== 0)
      throw new Error(`${script} exited ${out.status}: ${out.stderr} ${out.stdout.length} ${out.stdout.slice(-300)}`);
  }
  return median(runs);
}

const repo = await makeRepo({ plan, items: issues.map((issue) => ({ issue, title: `Item ${issue}` })) });
try {
  const store = await openStateStore(repo.stateDir, '7');
  await store.update((s) => {
    for (const issue of issues) {
      s.items[String(issue)] = emptyItem(issue, Math.ceil(issue / PER_WAVE));
      updateItem(s, issue, {
        status: 'complete',
        attempts: 1,
        branch: `work/7-${issue}`,
        result: itemResult({ files: [`item-${issue}.txt`], durationMs: 1000 + issue }),
        finishedAt: new Date().toISOString(),
      });
    }
  });
  const node = (() => {
    const start = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    return performance.now() - start;
  })();
  const planMs = timeCommand('plan', repo.dir);
  const statusMs = timeCommand('status', repo.dir);
  console.log(
    `startup on ${issues.length} items in ${WAVES} waves (medians of 5, child processes; node -e 0 takes ${node.toFixed(0)} ms here)`,
  );
  console.log(`  plan 7:   ${planMs.toFixed(0)} ms (target < 1000)`);
  console.log(`  status 7: ${statusMs.toFixed(0)} ms (target < 500)`);
} finally {
  repo.cleanup();
}
