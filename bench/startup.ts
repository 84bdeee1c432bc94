/**
 * Command startup on a 500-item milestone (50 waves of 10): wall time of `plan 7` and `status 7` as child processes
 * (node + tsx + the command's modules + the work), medians of 5, with a state.json of 500 finished items for
 * `status`. Targets: plan < 1 s, status < 0.5 s. Each command is started the ways it is run: the bin
 * (`work-milestone <command>`, from the bundle in dist/), the bin with the bundle turned off (the TypeScript sources
 * through tsx, as when dist/ is stale), `node --import tsx scripts/<command>.mts` and `npx zx scripts/<command>.mts`.
 * Run: node --import tsx bench/startup.ts
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBundle, freshBundle } from '../bin/bundle.mjs';
import { openStateStore } from '../tasks/lib/state.ts';
import { emptyItem } from '../tasks/lib/state-types.ts';
import { updateItem } from '../tasks/lib/state-items.ts';
import { cliEnv, makeRepo, ROOT, TSX } from '../test/support/fixture.ts';
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

/** How a command is started: node with tsx's loader, the package's bin, or `npx zx` from the package root. */
type Entry = 'bin' | 'bin-sources' | 'tsx' | 'zx';
const ENTRIES: readonly Entry[] = ['bin', 'bin-sources', 'tsx', 'zx'];

function spawnArgs(
  entry: Entry,
  script: string,
  repo: string,
): { file: string; args: string[]; cwd: string; env?: Record<string, string> } {
  const scriptPath = path.join(ROOT, 'scripts', `${script}.mts`);
  switch (entry) {
    case 'tsx':
      return { file: process.execPath, args: ['--import', TSX, scriptPath, '7'], cwd: repo };
    case 'bin':
      return { file: process.execPath, args: [path.join(ROOT, 'bin', 'work-milestone.mjs'), script, '7'], cwd: repo };
    case 'bin-sources':
      return {
        file: process.execPath,
        args: [path.join(ROOT, 'bin', 'work-milestone.mjs'), script, '7'],
        cwd: repo,
        env: { WORK_MILESTONE_NO_BUNDLE: '1' },
      };
    case 'zx':
      // npm's `node-options` (.npmrc) gives zx tsx's loader, as for a user in the package root.
      return { file: 'npx', args: ['zx', `scripts/${script}.mts`, '7', '--repo', repo], cwd: ROOT };
  }
}

function timeCommand(entry: Entry, script: string, repo: string): number {
  const { file, args, cwd, env } = spawnArgs(entry, script, repo);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const out = spawnSync(file, args, { cwd, env: cliEnv(env), encoding: 'utf8' });
    runs.push(performance.now() - start);
    if (out.status !== 0)
      throw new Error(`${script} exited ${out.status}: ${out.stderr} ${out.stdout.length} ${out.stdout.slice(-300)}`);
  }
  return median(runs);
}

if (!freshBundle()) await buildBundle();
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
  const times = ENTRIES.map((entry) => ({
    entry,
    plan: timeCommand(entry, 'plan', repo.dir),
    status: timeCommand(entry, 'status', repo.dir),
  }));
  console.log(
    `startup on ${issues.length} items in ${WAVES} waves (medians of 5, child processes; node -e 0 takes ${node.toFixed(0)} ms here)`,
  );
  for (const { entry, plan: planMs, status: statusMs } of times) {
    const how = {
      bin: 'bin/work-milestone.mjs (the bundle)',
      'bin-sources': 'bin/work-milestone.mjs, WORK_MILESTONE_NO_BUNDLE=1 (sources through tsx)',
      tsx: 'node --import tsx scripts/',
      zx: 'npx zx scripts/',
    }[entry];
    console.log(`  ${how}:`);
    console.log(`    plan 7:   ${planMs.toFixed(0)} ms (target < 1000)`);
    console.log(`    status 7: ${statusMs.toFixed(0)} ms (target < 500)`);
  }
} finally {
  repo.cleanup();
}
