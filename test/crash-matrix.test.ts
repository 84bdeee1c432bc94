/**
 * The resilience promise: kill the runner (SIGKILL) at any step boundary or inside a step, run again,
 * and the milestone lands exactly as without the crash: same main tree, each agent started once per item,
 * nothing left behind, the stash kept. Kill points are chosen by watching events.jsonl, not by hooks.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, runCli, startCli, tempDir, type TestRepo } from './support/fixture.ts';

// Item 1 appends to CHANGELOG at once, item 2 after 1.5 s: the same trivial conflict, resolved in the same order, every time.
const AGENT = [
  'echo "$WM_ISSUE" >> "$COUNTER"',
  'if [ "$WM_ISSUE" = 2 ]; then sleep 1.5; fi',
  'if [ "$WM_ISSUE" -le 2 ]; then printf -- "- change %s\\n" "$WM_ISSUE" >> CHANGELOG.md; fi',
  'printf "%s\\n" "$WM_ISSUE" > "item-$WM_ISSUE.txt"',
  'git add -A && git commit -qm "item $WM_ISSUE"',
  'printf "STATUS: COMPLETE\\nBRANCH: %s\\nNOTES: ok\\n" "$WM_BRANCH"',
].join('\n');

const PLAN = `milestone: {number: 7, title: "Crash test"}
waves:
  - wave: 1
    items:
      - {issue: 1, title: "One"}
      - {issue: 2, title: "Two"}
  - wave: 2
    items:
      - {issue: 3, title: "Three", depends-on: [1]}
      - {issue: 4, title: "Four"}
quality-gates:
  post-merge: ["test -f item-1.txt"]
defaults: {agent: command, command: "sh ./.agent.sh", timeout: 60s, retries: 0}
`;

interface Case {
  readonly repo: TestRepo;
  readonly counter: string;
}

async function makeCase(): Promise<Case> {
  const repo = await makeRepo({
    plan: PLAN,
    items: [1, 2, 3, 4].map((issue) => ({ issue, title: ['One', 'Two', 'Three', 'Four'][issue - 1] as string })),
    files: { 'CHANGELOG.md': '# Changelog\n\n', '.agent.sh': `${AGENT}\n` },
    origin: true,
  });
  // A dirty tree: prepare stashes it (--yes), and the stash must survive every crash.
  writeFileSync(path.join(repo.dir, 'scratch.txt'), 'work in progress\n');
  const counter = path.join(tempDir('wm-counter-'), 'starts');
  writeFileSync(counter, '');
  return { repo, counter };
}

const env = (c: Case) => ({ COUNTER: c.counter });
const ARGS = (c: Case) => ['7', '--repo', c.repo.dir, '--yes'];

async function mainTree(c: Case): Promise<string> {
  return git(c.repo.dir, 'rev-parse', 'main^{tree}');
}

/** Start a run and SIGKILL it as soon as events.jsonl has a line matching `trigger` (the `n`-th such line). */
async function runAndKill(c: Case, trigger: (e: Record<string, unknown>) => boolean, n = 1): Promise<boolean> {
  const child = startCli('run', ARGS(c), { env: env(c) });
  const events = path.join(c.repo.stateDir, 'events.jsonl');
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  let seen = 0;
  let killed = false;
  let offset = 0;
  while (!done) {
    if (existsSync(events)) {
      const lines = readFileSync(events, 'utf8').split('\n');
      for (const line of lines.slice(offset, -1)) {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (trigger(e) && ++seen === n) {
          child.kill('SIGKILL');
          killed = true;
          break;
        }
      }
      offset = Math.max(offset, lines.length - 1);
      if (killed) break;
    }
    await sleep(10);
  }
  await exited;
  return killed;
}

async function assertConverged(c: Case, reference: string, label: string): Promise<void> {
  const again = await runCli('run', ARGS(c), { env: env(c), timeoutMs: 120_000 });
  assert.is(again.code, 0, `${label}: run again exits 0\n${again.stderr}`);
  assert.is(await mainTree(c), reference, `${label}: same main tree as the reference`);
  assert.is(await git(c.repo.origin as string, 'rev-parse', 'main^{tree}'), reference, `${label}: origin has it`);
  const starts = readFileSync(c.counter, 'utf8').split('\n').filter(Boolean).sort();
  assert.equal(starts, ['1', '2', '3', '4'], `${label}: each agent started exactly once`);
  const worktrees = (await git(c.repo.dir, 'worktree', 'list', '--porcelain'))
    .split('\n')
    .filter((l) => l.startsWith('worktree '));
  assert.is(worktrees.length, 1, `${label}: no worktree left`);
  assert.not.ok(existsSync(path.join(c.repo.stateDir, 'run.lock')), `${label}: no lock left`);
  assert.is(
    (await git(c.repo.dir, 'branch', '--list', 'work/*', 'milestone/*')).trim(),
    '',
    `${label}: no item or integration branch left`,
  );
  assert.match(await git(c.repo.dir, 'stash', 'list'), /work-milestone: pre-run main/, `${label}: the stash is kept`);
}

let reference = '';
let points: string[] = [];

test('reference run lands', async () => {
  const c = await makeCase();
  try {
    const r = await runCli('run', ARGS(c), { env: env(c) });
    assert.is(r.code, 0, r.stderr);
    reference = await mainTree(c);
    assert.match(await git(c.repo.dir, 'show', 'main:CHANGELOG.md'), /- change 1\n- change 2/);
    const events = readFileSync(path.join(c.repo.stateDir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; node?: string });
    points = events.filter((e) => e.type === 'step-done' || e.type === 'step-skip').map((e) => e.node as string);
    assert.ok(points.includes('merge@1') && points.includes('land') && points.includes('complete'), points.join(' '));
  } finally {
    c.repo.cleanup();
  }
});

test('killed at every step boundary, run again: same result', async () => {
  assert.ok(points.length >= 15, `the reference run gave the kill points: ${points.join(' ')}`);
  for (const node of points.filter((p, i) => points.indexOf(p) === i && p !== 'complete')) {
    const c = await makeCase();
    try {
      await runAndKill(c, (e) => (e.type === 'step-done' || e.type === 'step-skip') && e.node === node);
      await assertConverged(c, reference, `after ${node}`);
    } finally {
      c.repo.cleanup();
    }
  }
});

const INSIDE: ReadonlyArray<readonly [string, (e: Record<string, unknown>) => boolean, number]> = [
  ['during wait with agents alive', (e) => e.type === 'agent-spawned' && e.issue === 2, 1],
  ['between two merges of wave 1', (e) => e.type === 'merge', 1],
  ['between land merge and push', (e) => e.type === 'land' && e.phase === 'merged', 1],
  ['right after an agent ended', (e) => e.type === 'agent-exited', 1],
  ['between worktrees of wave 2', (e) => e.type === 'step-start' && e.node === 'worktrees@2', 1],
];

test('killed inside steps, run again: same result', async () => {
  for (const [label, trigger, n] of INSIDE) {
    const c = await makeCase();
    try {
      assert.ok(await runAndKill(c, trigger, n), `${label}: the kill point was reached`);
      await assertConverged(c, reference, label);
    } finally {
      c.repo.cleanup();
    }
  }
});

test.run();
