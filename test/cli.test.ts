/**
 * The command line (README, docs/errors.md) through the real scripts and the `work-milestone` bin: --help, bad input
 * (exit 2, one line, no stack trace), status before and after a full run, refusing to run inside an agent, and the bin
 * (from a project that installed the packed package: test/packed-install.test.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CommandName } from '../tasks/cli/main.ts';
import {
  COMMITTING_AGENT,
  git,
  makeRepo,
  ROOT,
  runCli,
  snapshotRepo,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { runInProcess, runProcess, TSX } from './support/cli.ts';
import { planYaml } from './support/plan.ts';

const BIN = path.join(ROOT, 'bin', 'work-milestone.mjs');
const SEED = readFileSync(path.join(ROOT, 'test', 'fixtures', 'plans', 'seed-7.yaml'), 'utf8');
const SEED_ITEMS = [42, 43, 44, 45, 46, 47].map((issue) => ({ issue, title: `Item ${issue}` }));
const STEPS = 'validate, prepare, branch, fetch, worktrees, spawn, wait, merge, relay, gates, land, complete';

/** A script run with `node --import tsx`, with exactly the given extra environment. */
function runScript(
  script: string,
  args: readonly string[],
  options: { cwd?: string; env?: Readonly<Record<string, string>> } = {},
): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', TSX, path.join(ROOT, 'scripts', `${script}.mts`), ...args], options);
}

/** Exit 2 with one line on stderr, nothing on stdout, and no stack trace. */
function assertBadInput(result: CliResult, pattern: RegExp, what: string): void {
  assert.is(result.code, 2, `${what}: exit ${result.code}\n${result.stderr}`);
  assertNoStack(result, what);
  assert.is(result.stdout, '', `${what}: stdout`);
  assert.match(result.stderr, /^[^\n]+\n$/, `${what}: not one line:\n${result.stderr}`);
  assert.match(result.stderr.replace(/\n$/, ''), pattern, `${what}: ${JSON.stringify(result.stderr)}`);
}

function assertNoStack(result: CliResult, what: string): void {
  assert.not.match(`${result.stdout}\n${result.stderr}`, /^ {4}at /m, `${what}: a stack trace\n${result.stderr}`);
}

/** Run `jobs` two at a time (the machine has two cores). */
async function inPairs<T>(jobs: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < jobs.length; i += 2) out.push(...(await Promise.all(jobs.slice(i, i + 2).map((j) => j()))));
  return out;
}

let seedRepo: TestRepo;

test.before(async () => {
  seedRepo = await makeRepo({ plan: SEED, items: SEED_ITEMS });
});

test.after(() => seedRepo.cleanup());

test('--help of run, step, plan, status: exit 0 and the usage on stdout', async () => {
  const scripts = ['run', 'step', 'plan', 'status'];
  const results = await inPairs(scripts.map((s) => () => runCli(s, ['--help'])));
  results.forEach((r, i) => {
    const script = scripts[i] as string;
    assert.is(r.code, 0, `${script}: ${r.stderr}`);
    assert.is(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^Usage: npx zx scripts/${script}\\.mts `), script);
    assert.match(r.stdout, new RegExp(`\\n {3}or: npx work-milestone ${script} `), script);
    assert.match(r.stdout, /Exit codes: 0 done, 1 a step failed, 2 bad input, 3 needs attention, 130 interrupted\./);
  });
  // -h is --help, also after other arguments.
  const short = await runInProcess('plan', ['7', '-h']);
  assert.is(short.code, 0);
  assert.match(short.stdout, /^Usage: npx zx scripts\/plan\.mts/);
});

test('bad input: unknown flag, flag without value, unknown or missing step, missing milestone, extra argument → exit 2, one line', async () => {
  const repo = ['--repo', seedRepo.dir];
  const cases: Array<[string, string[], RegExp]> = [
    ['run', ['7', '--bogus', ...repo], /^unknown flag --bogus; see --help$/m],
    ['plan', ['7', '--bogus=1', ...repo], /^unknown flag --bogus=1; see --help$/m],
    ['status', ['7', '-x', ...repo], /^unknown flag -x; see --help$/m],
    ['run', ['7', '--repo'], /^--repo needs a value; see --help$/m],
    ['run', ['7', '--wave', '1', '--wave', '2', ...repo], /^--wave is given more than once$/m],
    ['run', ['7', '--concurrency', '0', ...repo], /^--concurrency must be a positive integer, got "0"$/m],
    ['run', ['7', '--agent', 'gpt', ...repo], /^--agent must be one of claude, codex, command, scripted, got "gpt"$/m],
    ['step', ['deploy', '7', ...repo], new RegExp(`^unknown step "deploy"; steps are: ${STEPS}$`, 'm')],
    [
      'step',
      [...repo],
      /^missing step and milestone number; usage: npx zx scripts\/step\.mts <step> <N> \[flags\]; see --help$/m,
    ],
    ['step', ['merge', ...repo], /^missing milestone number; usage: npx zx scripts\/step\.mts <step> <N>/m],
    ['run', [...repo], /^missing milestone number; usage: npx zx scripts\/run\.mts <N> \[flags\]; see --help$/m],
    ['plan', [...repo], /^missing milestone number; usage: npx zx scripts\/plan\.mts <N>/m],
    ['status', [...repo], /^missing milestone number; usage: npx zx scripts\/status\.mts <N>/m],
    ['plan', ['7', '8', ...repo], /^unexpected argument "8"; usage: npx zx scripts\/plan\.mts <N>/m],
    [
      'plan',
      ['9', ...repo],
      /^plan\/milestone-9-dispatch\.yaml: no such plan file; the only plan in plan\/ is for milestone 7$/m,
    ],
    ['plan', ['7', '--repo', path.join(seedRepo.root, 'nowhere')], /is not inside a git repository; pass --repo DIR$/m],
  ];
  for (const [script, args, pattern] of cases)
    assertBadInput(await runInProcess(script as CommandName, args), pattern, `${script} ${args.join(' ')}`);
  // The same through the real scripts, one of each kind.
  const spots = [cases[0], cases[3], cases[7], cases[10]] as Array<[string, string[], RegExp]>;
  const results = await inPairs(
    spots.map(
      ([script, args]) =>
        () =>
          runCli(script, args),
    ),
  );
  results.forEach((r, i) => {
    const [script, args, pattern] = spots[i] as [string, string[], RegExp];
    assertBadInput(r, pattern, `${script}.mts ${args.join(' ')}`);
  });
  assert.not.ok(existsSync(path.join(seedRepo.dir, '.git', 'work-milestone')), 'bad input created the state folder');
});

test('a milestone that could be a git option or a path (--upload-pack=x, ../x, a/b) → exit 2, nothing created', async () => {
  const before = await snapshotRepo(seedRepo.dir);
  const repo = ['--repo', seedRepo.dir];
  const cases: Array<[string, string[], RegExp]> = [
    ['run', ['--upload-pack=x', ...repo], /^unknown flag --upload-pack=x; see --help$/],
    ['run', [...repo, '--', '--upload-pack=x'], /^milestone "--upload-pack=x" is not a milestone number or backlog id/],
    ['run', ['../x', ...repo], /^milestone "\.\.\/x" is not a milestone number or backlog id/],
    ['plan', ['../x', ...repo], /^milestone "\.\.\/x" is not a milestone number/],
    ['status', ['a/b', ...repo], /^milestone "a\/b" is not a milestone number/],
    ['step', ['merge', '../../x', ...repo], /^milestone "\.\.\/\.\.\/x" is not a milestone number/],
  ];
  for (const [script, args, pattern] of cases)
    assertBadInput(await runInProcess(script as CommandName, args), pattern, `${script} ${args.join(' ')}`);
  const spots = [cases[0], cases[2]] as Array<[string, string[], RegExp]>;
  const results = await Promise.all(spots.map(([script, args]) => runCli(script, args)));
  results.forEach((r, i) => {
    const [script, args, pattern] = spots[i] as [string, string[], RegExp];
    assertBadInput(r, pattern, `${script}.mts ${args.join(' ')}`);
  });
  assert.is(await snapshotRepo(seedRepo.dir), before);
  assert.not.ok(existsSync(path.join(seedRepo.dir, '.git', 'work-milestone')));
  assert.not.ok(existsSync(path.join(seedRepo.root, 'x')));
});

test('status before any run: exactly "milestone 7: not started"; --json parses; nothing is created', async () => {
  const [text, json] = await Promise.all([
    runCli('status', ['7', '--repo', seedRepo.dir]),
    runInProcess('status', ['7', '--repo', seedRepo.dir, '--json']),
  ]);
  assert.is(text.code, 0, text.stderr);
  assert.is(text.stdout, 'milestone 7: not started\n');
  assert.is(text.stderr, '');
  assert.is(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout) as {
    milestone: string;
    phase: string;
    items: Array<{ issue: number; status: string }>;
  };
  assert.is(data.milestone, '7');
  assert.is(data.phase, 'not started');
  assert.equal(
    data.items.map((i) => [i.issue, i.status]),
    SEED_ITEMS.map((i) => [i.issue, 'pending']),
  );
  assert.not.ok(existsSync(path.join(seedRepo.dir, '.git', 'work-milestone')), 'status created the state folder');
});

test('a corrupt state.json: status and run --dry-run show it healed and touch nothing; run --stop heals it (file kept aside); no advice to move it away', async () => {
  const repo = await makeRepo({ plan: SEED, items: SEED_ITEMS });
  try {
    mkdirSync(repo.stateDir, { recursive: true });
    const file = path.join(repo.stateDir, 'state.json');
    writeFileSync(file, '{"version": 1,');
    const [status, dry] = await Promise.all([
      runCli('status', ['7', '--repo', repo.dir]),
      runInProcess('run', ['7', '--repo', repo.dir, '--dry-run']),
    ]);
    for (const r of [status, dry]) {
      assert.is(r.code, 0, r.stderr);
      assertNoStack(r, 'corrupt state');
      assert.match(r.stderr, /^[^\n]+\n$/);
      assert.ok(r.stderr.startsWith(`${file} is not valid JSON (`), r.stderr);
      assert.match(r.stderr, "showing it as rebuilt from the milestone's files and git");
      assert.not.match(r.stderr, /move it away|afresh/);
    }
    assert.match(status.stdout, /^milestone 7: started/);
    assert.match(status.stderr, '(status writes nothing; `npx zx scripts/run.mts 7` heals it)');
    assert.match(dry.stdout, /^validate: todo \(plan not validated yet\)$/m);
    assert.equal(readdirSync(repo.stateDir), ['state.json'], 'status or a dry-run wrote');
    assert.is(readFileSync(file, 'utf8'), '{"version": 1,', 'the corrupt file was touched');

    const stop = await runInProcess('run', ['7', '--repo', repo.dir, '--stop']);
    assert.is(stop.code, 0, stop.stderr);
    assertNoStack(stop, 'run --stop');
    assert.match(
      stop.stderr,
      /; rebuilt it from the milestone's files and git; the unusable file is kept as \S+state\.json\.unreadable-[^\n]+\nmilestone 7 has no live agent\n$/,
    );
    const kept = readdirSync(repo.stateDir).filter((f) => f.startsWith('state.json.unreadable-'));
    assert.is(kept.length, 1);
    assert.is(readFileSync(path.join(repo.stateDir, kept[0] as string), 'utf8'), '{"version": 1,');
    assert.is((JSON.parse(readFileSync(file, 'utf8')) as { milestone: string }).milestone, '7');
  } finally {
    repo.cleanup();
  }
});

test('run refuses inside an agent: WORK_MILESTONE_CHILD=1, or a worktree holding .claude/kage-bunshin.lock → exit 2, nothing created', async () => {
  const child = await runScript('run', ['7', '--repo', seedRepo.dir], { env: { WORK_MILESTONE_CHILD: '1' } });
  assertBadInput(
    child,
    /^refusing to run inside an agent \(WORK_MILESTONE_CHILD=1\): agents never start agents$/,
    'WORK_MILESTONE_CHILD=1',
  );
  const step = await runInProcess('step', ['validate', '7', '--repo', seedRepo.dir], {
    env: { WORK_MILESTONE_CHILD: '1' },
  });
  assertBadInput(step, /^refusing to run inside an agent/, 'step with WORK_MILESTONE_CHILD=1');

  // A worktree of the repository that looks like an agent's.
  const worktree = path.join(seedRepo.root, 'agent-worktree');
  await git(seedRepo.dir, 'worktree', 'add', '-q', '-b', 'work/7-42-x', worktree);
  try {
    mkdirSync(path.join(worktree, '.claude'));
    writeFileSync(
      path.join(worktree, '.claude', 'kage-bunshin.lock'),
      JSON.stringify({ session_id: 's', parent_pid: 1, spawned_at: 'now', item: 42, model: 'sonnet' }),
    );
    mkdirSync(path.join(worktree, 'src'));
    const lockMessage =
      /^refusing to run in .*agent-worktree: it is an agent's worktree \(\.claude\/kage-bunshin\.lock\)$/;
    // From its top, from a folder inside it, and from inside it with --repo pointing at the user's checkout.
    const cases: Array<[string, string[], string]> = [
      ['run', ['7'], worktree],
      ['run', ['7'], path.join(worktree, 'src')],
      ['run', ['7', '--repo', seedRepo.dir], path.join(worktree, 'src')],
      ['step', ['merge', '7'], worktree],
    ];
    for (const [i, [script, args, cwd]] of cases.entries())
      assertBadInput(await runInProcess(script as CommandName, args, { cwd }), lockMessage, `case ${i}`);
    // --repo pointing at the agent's worktree from outside it.
    assertBadInput(
      await runInProcess('run', ['7', '--repo', worktree], { cwd: seedRepo.root }),
      lockMessage,
      '--repo <agent worktree>',
    );
    // Through the real script, started inside the worktree.
    assertBadInput(
      await runCli('run', ['7', '--repo', seedRepo.dir], { cwd: path.join(worktree, 'src') }),
      lockMessage,
      'run.mts inside the worktree',
    );
    // plan and status only read: they still work there.
    assert.is((await runInProcess('plan', ['7'], { cwd: worktree })).code, 0);
  } finally {
    await git(seedRepo.dir, 'worktree', 'remove', '--force', worktree);
    await git(seedRepo.dir, 'branch', '-D', 'work/7-42-x');
  }
  assert.not.ok(
    existsSync(path.join(seedRepo.dir, '.git', 'work-milestone')),
    'a refused run created the state folder',
  );
});

test('a full run with a command agent: exit 0, status shows every item complete, --json agrees', async () => {
  const plan = planYaml({
    title: 'CLI test',
    waves: [
      {
        items: [
          { issue: 1, title: 'One' },
          { issue: 2, title: 'Two' },
        ],
      },
      { parallel: false, items: [{ issue: 3, title: 'Three', dependsOn: [1] }] },
    ],
    defaults: { agent: 'command', command: COMMITTING_AGENT },
  });
  const repo = await makeRepo({
    plan,
    items: [
      { issue: 1, title: 'One' },
      { issue: 2, title: 'Two' },
      { issue: 3, title: 'Three' },
    ],
  });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(run.code, 0, run.stderr);
    assertNoStack(run, 'run');
    const [text, json] = await Promise.all([
      runCli('status', ['7', '--repo', repo.dir]),
      runInProcess('status', ['7', '--repo', repo.dir, '--json']),
    ]);
    assert.is(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.is(lines[0], 'milestone 7: complete (milestone/7-cli-test)');
    for (const [wave, issue, title] of [
      [1, 1, 'One'],
      [1, 2, 'Two'],
      [2, 3, 'Three'],
    ] as const) {
      assert.ok(
        lines.some((l) => l.startsWith(`  wave ${wave}  #${issue} ${title}: complete`)),
        `#${issue} not complete:\n${text.stdout}`,
      );
    }
    assert.is(lines.length, 4, text.stdout);
    const data = JSON.parse(json.stdout) as {
      phase: string;
      items: Array<{ issue: number; status: string; merge: string | null }>;
      land: { mainAfter: string } | null;
    };
    assert.is(data.phase, 'complete');
    assert.equal(
      data.items.map((i) => [i.issue, i.status]),
      [
        [1, 'complete'],
        [2, 'complete'],
        [3, 'complete'],
      ],
    );
    assert.ok(data.items.every((i) => i.merge === 'clean'));
    assert.is(data.land?.mainAfter, await git(repo.dir, 'rev-parse', 'main'));
    for (const f of ['item-1.txt', 'item-2.txt', 'item-3.txt'])
      assert.ok(existsSync(path.join(repo.dir, f)), `${f} is not on main`);
  } finally {
    repo.cleanup();
  }
});

test('bin/work-milestone.mjs: usage, unknown command, and plan/status/--help through the bin', async () => {
  const bin = (args: string[], cwd = ROOT) => runProcess(process.execPath, [BIN, ...args], { cwd });
  const [none, help, unknown, version] = await Promise.all([
    bin([]),
    bin(['--help']),
    bin(['deploy', '7']),
    bin(['--version']),
  ]);
  for (const r of [none, help]) {
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: work-milestone <command> \[args…\]/);
    for (const c of ['run', 'step', 'plan', 'status', 'gates', 'demo'])
      assert.match(r.stdout, new RegExp(`\\n  ${c} `));
  }
  assert.is(unknown.code, 2);
  assert.is(unknown.stdout, '');
  assert.is(
    unknown.stderr,
    'work-milestone: unknown command "deploy"; commands are: run, step, plan, status, gates, list, reset, completion, demo, init-workflow, agent-job\n',
  );
  assert.is(version.stdout, `${JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);

  const [planned, status] = await Promise.all([
    bin(['plan', '7', '--repo', seedRepo.dir]),
    bin(['status', '7', '--repo', seedRepo.dir]),
  ]);
  assert.is(planned.code, 0, planned.stderr);
  assert.is(planned.stdout, (await runInProcess('plan', ['7', '--repo', seedRepo.dir])).stdout);
  assert.match(planned.stdout, /^milestone 7: v1\.1 — Search improvements → milestone\/7-v1\.1-search-improvements\n/);
  assert.is(status.stdout, 'milestone 7: not started\n');
  // Relative --repo resolves against the directory the bin was started from.
  const relative = await bin(['status', '7', '--repo', 'repo'], seedRepo.root);
  assert.is(relative.stdout, 'milestone 7: not started\n', relative.stderr);
});

test.run();
