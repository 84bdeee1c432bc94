/**
 * Orchestration overhead: the same milestone (2 waves × N items, agents that write a file and commit) run by
 * work-milestone and by a plain bash loop doing the same git work (worktree, commit, --no-ff merges, land,
 * cleanup) one item after another. Prints both wall times and their ratio.
 * Run: node --import tsx bench/overhead.ts [N]
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { COMMITTING_AGENT, makeRepo, runCli } from '../test/support/fixture.ts';

const perWave = Number(process.argv[2] ?? 4);
const issues = Array.from({ length: perWave * 2 }, (_, i) => i + 1);
const plan = `milestone: {number: 7, title: "Bench"}
waves:
${[1, 2]
  .map(
    (w) =>
      `  - wave: ${w}\n    items:\n${issues
        .slice((w - 1) * perWave, w * perWave)
        .map((i) => `      - {issue: ${i}, title: "Item ${i}"}`)
        .join('\n')}`,
  )
  .join('\n')}
defaults: {agent: command, command: ${JSON.stringify(COMMITTING_AGENT)}, concurrency: ${perWave}}
`;
const items = issues.map((issue) => ({ issue, title: `Item ${issue}` }));

const BASH = `set -e
git worktree add -q -b milestone/7-bench worktrees/milestone-7 main
for wave in 1 2; do
  for i in $ITEMS; do
    w=$(( (i - 1) / ${perWave} + 1 )); [ "$w" = "$wave" ] || continue
    git worktree add -q -b "work/7-$i" "worktrees/7-$i" milestone/7-bench
    (cd "worktrees/7-$i" && printf '%s\\n' "$i" > "item-$i.txt" && git add "item-$i.txt" && git commit -qm "item $i")
  done
  for i in $ITEMS; do
    w=$(( (i - 1) / ${perWave} + 1 )); [ "$w" = "$wave" ] || continue
    (cd worktrees/milestone-7 && git merge -q --no-ff -m "Merge #$i" "work/7-$i")
  done
done
git merge -q --no-ff -m "Merge milestone 7" milestone/7-bench
for i in $ITEMS; do git worktree remove --force "worktrees/7-$i"; git branch -q -d "work/7-$i"; done
git worktree remove --force worktrees/milestone-7 && git branch -q -d milestone/7-bench
`;

async function main(): Promise<void> {
  const a = await makeRepo({ plan, items });
  const b = await makeRepo({ plan, items });
  try {
    let start = performance.now();
    const r = await runCli('run', ['7', '--repo', a.dir]);
    const ours = performance.now() - start;
    if (r.code !== 0) throw new Error(`work-milestone exited ${r.code}: ${r.stderr}`);
    start = performance.now();
    execFileSync('bash', ['-c', BASH], { cwd: b.dir, env: { ...process.env, ITEMS: issues.join(' ') } });
    const loop = performance.now() - start;
    const files = (dir: string) =>
      execFileSync('git', ['ls-tree', '-r', '--name-only', 'main'], { cwd: dir, encoding: 'utf8' })
        .split('\n')
        .filter((f) => f.startsWith('item-')).length;
    console.log(`${issues.length} items in 2 waves; both landed ${files(a.dir)} / ${files(b.dir)} item files on main`);
    console.log(
      `  work-milestone run (validate … complete, with state, events, report): ${(ours / 1000).toFixed(2)} s`,
    );
    console.log(`  plain bash loop, same git work, sequential:                          ${(loop / 1000).toFixed(2)} s`);
    console.log(
      `  ratio: ${(ours / loop).toFixed(2)}x  (per item: ${((ours - loop) / issues.length).toFixed(0)} ms more)`,
    );
  } finally {
    a.cleanup();
    b.cleanup();
  }
}

await main();
