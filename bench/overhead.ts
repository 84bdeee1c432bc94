/**
 * Orchestration overhead: one milestone of N items in 5 waves, run by work-milestone and by a plain bash loop doing
 * the same git work, interleaved, medians of the repetitions. The runner is started as a user starts it (the bin, from
 * the bundle in dist/). Both sides start one agent process per item that writes
 * a file and commits it; the loop then merges each item `--no-ff` into an integration worktree, lands it on main
 * and removes each worktree and branch. Prints both wall times, their ratio, the runner's peak RSS, and the git
 * processes per item counted from GIT_TRACE2_EVENT (the runner's own are those started with its
 * `-c core.hooksPath=/dev/null` flags; the rest are the agents' `git add`/`git commit`), with the runner's calls by
 * subcommand. `--callers` also lists them by the runner function that asked (WM_GIT_CALLER_LOG).
 *
 * Run: node --import tsx bench/overhead.ts [sizes=10,50,200] [--reps 3] [--callers]
 * (200 items run once unless --reps-large says otherwise: one run takes about a minute on a quiet machine.)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildBundle, freshBundle } from '../bin/bundle.mjs';
import { cliEnv, COMMITTING_AGENT, makeRepo, ROOT } from '../test/support/fixture.ts';
import { RUNNER_GIT_FLAGS } from '../tasks/lib/git.ts';

const WAVES = 5;
const BIN = path.join(ROOT, 'bin', 'work-milestone.mjs');
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const sizes = (args.find((a) => /^\d+(,\d+)*$/.test(a)) ?? '10,50,200').split(',').map(Number);
const reps = flag('--reps', 3);
const repsLarge = flag('--reps-large', 1);
const callers = args.includes('--callers');
if (args.includes('--help')) {
  console.log('usage: node --import tsx bench/overhead.ts [sizes=10,50,200] [--reps 3] [--reps-large 1] [--callers]');
  process.exit(0);
}

/** The plan of `n` items in WAVES waves, every wave at full concurrency. */
function planOf(n: number): { plan: string; issues: number[] } {
  const issues = Array.from({ length: n }, (_, i) => i + 1);
  const per = Math.ceil(n / WAVES);
  const waves = Array.from({ length: WAVES }, (_, w) => issues.slice(w * per, (w + 1) * per)).filter((w) => w.length);
  const plan = `milestone: {number: 7, title: "Bench"}
waves:
${waves.map((items, w) => `  - wave: ${w + 1}\n    items:\n${items.map((i) => `      - {issue: ${i}, title: "Item ${i}"}`).join('\n')}`).join('\n')}
defaults: {agent: command, command: ${JSON.stringify(COMMITTING_AGENT)}, concurrency: ${per}}
`;
  return { plan, issues };
}

/** The same git work, one item after another; each item's agent is its own process, as the runner's are. */
function bashLoop(per: number): string {
  return `set -e
git worktree add -q -b milestone/7-bench worktrees/milestone-7 main
for i in $ITEMS; do
  git worktree add -q -b "work/7-$i" "worktrees/7-$i" milestone/7-bench
  (cd "worktrees/7-$i" && WM_ISSUE=$i WM_BRANCH="work/7-$i" sh -c "$AGENT" > /dev/null)
  if [ $(( i % ${per} )) = 0 ] || [ "$i" = "$LAST" ]; then
    for j in $(seq $(( (i - 1) / ${per} * ${per} + 1 )) $i); do
      git -C worktrees/milestone-7 merge -q --no-ff -m "Merge #$j" "work/7-$j"
    done
  fi
done
git merge -q --ff-only milestone/7-bench
for i in $ITEMS; do git worktree remove "worktrees/7-$i"; git branch -q -d "work/7-$i"; done
git worktree remove --force worktrees/milestone-7 && git branch -q -d milestone/7-bench
`;
}

/** Git processes in a GIT_TRACE2_EVENT file: all, the runner's, and the runner's by subcommand. */
interface GitCount {
  readonly all: number;
  readonly runner: number;
  readonly bySubcommand: ReadonlyMap<string, number>;
}

function countGit(traceFile: string): GitCount {
  let all = 0;
  let runner = 0;
  const bySubcommand = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(traceFile, 'utf8');
  } catch {
    return { all, runner, bySubcommand };
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"event":"start"')) continue;
    const argv = (JSON.parse(line) as { argv?: string[] }).argv ?? [];
    if (!/(^|\/)git$/.test(argv[0] ?? '')) continue;
    all += 1;
    if (argv[1] !== '-c' || argv[2] !== 'core.hooksPath=/dev/null') continue;
    runner += 1;
    const rest = argv.slice(1 + RUNNER_GIT_FLAGS.length).filter((a) => a !== '--literal-pathspecs');
    const sub = rest[0] === 'worktree' || rest[0] === 'update-ref' ? `${rest[0]} ${rest[1]}` : (rest[0] ?? '?');
    bySubcommand.set(sub, (bySubcommand.get(sub) ?? 0) + 1);
  }
  return { all, runner, bySubcommand };
}

/** One run of the runner: wall ms, peak RSS in MiB (from /usr/bin/time), its git trace. */
async function runOurs(
  n: number,
  traceDir: string,
  rep: number,
): Promise<{ ms: number; rssMiB: number; git: GitCount }> {
  const { plan, issues } = planOf(n);
  const repo = await makeRepo({ plan, items: issues.map((issue) => ({ issue, title: `Item ${issue}` })) });
  const trace = path.join(traceDir, `ours-${n}-${rep}.jsonl`);
  const rssFile = path.join(traceDir, `rss-${n}-${rep}.txt`);
  const callerLog = path.join(traceDir, `callers-${n}-${rep}.jsonl`);
  try {
    const env = cliEnv({ GIT_TRACE2_EVENT: trace, ...(callers ? { WM_GIT_CALLER_LOG: callerLog } : {}) });
    const start = performance.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        '/usr/bin/time',
        // As a user runs it: the bin, from the bundle (source maps only for --callers, whose frames name sources).
        ['-f', '%M', '-o', rssFile, process.execPath, ...(callers ? ['--enable-source-maps'] : []), BIN, 'run', '7'],
        { cwd: repo.dir, env, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      child.on('close', resolve);
    });
    const ms = performance.now() - start;
    if (code !== 0) throw new Error(`work-milestone exited ${code} on ${n} items`);
    const landed = landedFiles(repo.dir);
    if (landed !== n) throw new Error(`work-milestone landed ${landed} of ${n} item files`);
    const rssMiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024;
    if (callers) printCallers(callerLog, n);
    return { ms, rssMiB, git: countGit(trace) };
  } finally {
    repo.cleanup();
  }
}

/** One run of the bash loop: wall ms and its git trace. */
async function runLoop(n: number, traceDir: string, rep: number): Promise<{ ms: number; git: GitCount }> {
  const { plan, issues } = planOf(n);
  const repo = await makeRepo({ plan, items: issues.map((issue) => ({ issue, title: `Item ${issue}` })) });
  const trace = path.join(traceDir, `loop-${n}-${rep}.jsonl`);
  try {
    const env = {
      ...process.env,
      ITEMS: issues.join(' '),
      LAST: String(n),
      AGENT: COMMITTING_AGENT,
      GIT_TRACE2_EVENT: trace,
    };
    const start = performance.now();
    execFileSync('bash', ['-c', bashLoop(Math.ceil(n / WAVES))], { cwd: repo.dir, env, stdio: 'ignore' });
    const ms = performance.now() - start;
    const landed = landedFiles(repo.dir);
    if (landed !== n) throw new Error(`the bash loop landed ${landed} of ${n} item files`);
    return { ms, git: countGit(trace) };
  } finally {
    repo.cleanup();
  }
}

function landedFiles(dir: string): number {
  return execFileSync('git', ['ls-tree', '-r', '--name-only', 'main'], { cwd: dir, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f.startsWith('item-')).length;
}

function printCallers(file: string, n: number): void {
  const counts = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const { cmd, at } = JSON.parse(line) as { cmd: string[]; at: string[] };
    const key = `${cmd.join(' ')}  <- ${at.slice(0, 2).join(' < ')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  console.log(`  runner git calls per item by caller (${n} items):`);
  for (const [key, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 60))
    console.log(`    ${(count / n).toFixed(2).padStart(5)}  ${key}`);
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  if (!freshBundle()) await buildBundle();
  const traceDir = mkdtempSync(path.join(tmpdir(), 'wm-bench-trace-'));
  console.log(`overhead: ${WAVES} waves, instant committing agents, interleaved runs, medians`);
  try {
    for (const n of sizes) {
      const count = n >= 200 ? repsLarge : reps;
      const ours: number[] = [];
      const loop: number[] = [];
      const rss: number[] = [];
      let git = { ours: null as GitCount | null, loop: null as GitCount | null };
      for (let rep = 0; rep < count; rep++) {
        const a = await runOurs(n, traceDir, rep);
        const b = await runLoop(n, traceDir, rep);
        ours.push(a.ms);
        rss.push(a.rssMiB);
        loop.push(b.ms);
        git = { ours: a.git, loop: b.git };
      }
      const [o, l] = [median(ours), median(loop)];
      const per = (x: number) => (x / n).toFixed(1);
      const subs = [...(git.ours?.bySubcommand ?? [])]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([k, v]) => `${k} ${per(v)}`)
        .join(', ');
      console.log(`${n} items (${count} run${count > 1 ? 's' : ''} each):`);
      console.log(
        `  work-milestone ${(o / 1000).toFixed(2)} s   bash loop ${(l / 1000).toFixed(2)} s   ratio ${(o / l).toFixed(2)}x` +
          `   runner peak RSS ${median(rss).toFixed(0)} MiB`,
      );
      console.log(
        `  git per item: runner ${per(git.ours?.runner ?? 0)} (of ${per(git.ours?.all ?? 0)} in all),` +
          ` bash loop ${per(git.loop?.all ?? 0)} in all`,
      );
      console.log(`  runner's by subcommand: ${subs}`);
    }
  } finally {
    rmSync(traceDir, { recursive: true, force: true });
  }
}

await main();
