/**
 * Orchestration overhead: the same milestone (2 waves × N items, agents that write a file and commit) run by
 * work-milestone and by a plain bash loop doing the same git work (worktree, commit, --no-ff merges, land,
 * cleanup) one item after another. Prints both wall times, their ratio, and the git processes each side started per
 * item (counted from GIT_TRACE2_EVENT, one trace file per run; the runner's own calls are those that start with its
 * `-c core.hooksPath=/dev/null` flags, the rest are the agents' `git add`/`git commit` and git's own subprocesses).
 * Run: node --import tsx bench/overhead.ts [N]   (N items per wave)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/** Git processes in a GIT_TRACE2_EVENT file: all of them, and those started with the runner's flags. */
interface GitCount {
  readonly all: number;
  readonly runner: number;
}

function countGit(traceFile: string): GitCount {
  let all = 0;
  let runner = 0;
  let text: string;
  try {
    text = readFileSync(traceFile, 'utf8');
  } catch {
    return { all, runner };
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"event":"start"')) continue;
    const argv = (JSON.parse(line) as { argv?: string[] }).argv ?? [];
    if (!/(^|\/)git$/.test(argv[0] ?? '')) continue;
    all += 1;
    if (argv[1] === '-c' && argv[2] === 'core.hooksPath=/dev/null') runner += 1;
  }
  return { all, runner };
}

async function main(): Promise<void> {
  const a = await makeRepo({ plan, items });
  const b = await makeRepo({ plan, items });
  const traces = mkdtempSync(path.join(tmpdir(), 'wm-bench-trace-'));
  const traceA = path.join(traces, 'work-milestone.jsonl');
  const traceB = path.join(traces, 'bash-loop.jsonl');
  try {
    let start = performance.now();
    const r = await runCli('run', ['7', '--repo', a.dir], { env: { GIT_TRACE2_EVENT: traceA } });
    const ours = performance.now() - start;
    if (r.code !== 0) throw new Error(`work-milestone exited ${r.code}: ${r.stderr}`);
    start = performance.now();
    execFileSync('bash', ['-c', BASH], {
      cwd: b.dir,
      env: { ...process.env, ITEMS: issues.join(' '), GIT_TRACE2_EVENT: traceB },
    });
    const loop = performance.now() - start;
    const gitA = countGit(traceA);
    const gitB = countGit(traceB);
    const perItem = (n: number) => (n / issues.length).toFixed(1);
    const files = (dir: string) =>
      execFileSync('git', ['ls-tree', '-r', '--name-only', 'main'], { cwd: dir, encoding: 'utf8' })
        .split('\n')
        .filter((f) => f.startsWith('item-')).length;
    console.log(`${issues.length} items in 2 waves; both landed ${files(a.dir)} / ${files(b.dir)} item files on main`);
    console.log(
      `  work-milestone run (validate … complete, with state, events, report): ${(ours / 1000).toFixed(2)} s` +
        `   git per item: ${perItem(gitA.runner)} by the runner, ${perItem(gitA.all)} in all`,
    );
    console.log(
      `  plain bash loop, same git work, sequential:                          ${(loop / 1000).toFixed(2)} s` +
        `   git per item: ${perItem(gitB.all)} in all`,
    );
    console.log(
      `  ratio: ${(ours / loop).toFixed(2)}x  (per item: ${((ours - loop) / issues.length).toFixed(0)} ms more)`,
    );
  } finally {
    a.cleanup();
    b.cleanup();
    rmSync(traces, { recursive: true, force: true });
  }
}

await main();
