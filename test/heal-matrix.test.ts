/**
 * A state rebuilt from disk converges like a crash does (docs/state.md): the runner is SIGKILLed at points across a
 * whole milestone (agents alive in wave 2, after a wave's merges, after the gates, between landing and pushing, after
 * completing), then state.json and its backup are both truncated, and `run` again lands exactly as without the crash:
 * the same main tree (locally and on origin), each agent started once, nothing left behind, the stash kept.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, runCli, startCli, tempDir, type TestRepo } from './support/fixture.ts';

// Item 1 appends to CHANGELOG at once, item 2 after 1.5 s: the same trivial conflict, resolved in the same order.
const AGENT = [
  'echo "$WM_ISSUE" >> "$COUNTER"',
  'if [ "$WM_ISSUE" = 2 ]; then sleep 1.5; fi',
  'if [ "$WM_ISSUE" -le 2 ]; then printf -- "- change %s\\n" "$WM_ISSUE" >> CHANGELOG.md; fi',
  'printf "%s\\n" "$WM_ISSUE" > "item-$WM_ISSUE.txt"',
  'git add -A && git commit -qm "item $WM_ISSUE"',
  'printf "STATUS: COMPLETE\\nBRANCH: %s\\nNOTES: ok\\n" "$WM_BRANCH"',
].join('\n');

const PLAN = `milestone: {number: 7, title: "Heal test"}
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
  // A dirty tree: prepare stashes it, and the rebuilt state finds that stash again.
  writeFileSync(path.join(repo.dir, 'scratch.txt'), 'work in progress\n');
  const counter = path.join(tempDir('wm-counter-'), 'starts');
  writeFileSync(counter, '');
  return { repo, counter };
}

const env = (c: Case) => ({ COUNTER: c.counter });
const ARGS = (c: Case) => ['7', '--repo', c.repo.dir, '--yes'];

/** Start a run and SIGKILL it at the first events.jsonl line matching `trigger` (never, for null: it runs to its end). */
async function runAndKill(c: Case, trigger: ((e: Record<string, unknown>) => boolean) | null): Promise<boolean> {
  const child = startCli('run', ARGS(c), { env: env(c) });
  const events = path.join(c.repo.stateDir, 'events.jsonl');
  let done = false;
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve())).then(() => (done = true));
  let killed = false;
  let offset = 0;
  while (!done && trigger) {
    if (existsSync(events)) {
      const lines = readFileSync(events, 'utf8').split('\n');
      for (const line of lines.slice(offset, -1)) {
        if (trigger(JSON.parse(line) as Record<string, unknown>)) {
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

/** Both copies of the state cut in half. */
function truncateState(c: Case): void {
  for (const name of ['state.json', 'state.json.bak']) {
    const file = path.join(c.repo.stateDir, name);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length >> 1));
  }
}

const mainTree = (c: Case) => git(c.repo.dir, 'rev-parse', 'main^{tree}');

let reference = '';

test('reference run lands', async () => {
  const c = await makeCase();
  try {
    const r = await runCli('run', ARGS(c), { env: env(c) });
    assert.is(r.code, 0, r.stderr);
    reference = await mainTree(c);
  } finally {
    c.repo.cleanup();
  }
});

const POINTS: ReadonlyArray<readonly [string, ((e: Record<string, unknown>) => boolean) | null]> = [
  ['agents of wave 2 alive', (e) => e.type === 'agent-spawned' && e.issue === 4],
  ['after the merges of wave 1', (e) => e.type === 'step-done' && e.node === 'merge@1'],
  ['after the gates', (e) => e.type === 'step-done' && e.node === 'gates'],
  ['between landing and pushing', (e) => e.type === 'land' && e.phase === 'merged'],
  ['after completing', null],
];

test('killed at points across the milestone, state.json and its backup truncated, run again: rebuilt, same result, nothing redone', async () => {
  assert.ok(reference, 'the reference run gave the tree');
  for (const [label, trigger] of POINTS) {
    const c = await makeCase();
    try {
      const killed = await runAndKill(c, trigger);
      assert.is(killed, trigger !== null, `${label}: the kill point was reached`);
      const mainBefore = await git(c.repo.dir, 'rev-parse', 'main');
      truncateState(c);
      const again = await runCli('run', ARGS(c), { env: env(c), timeoutMs: 120_000 });
      assert.is(again.code, 0, `${label}: run again exits 0\n${again.stderr}`);
      assert.match(again.stderr, "rebuilt it from the milestone's files and git", label);
      assert.is(await mainTree(c), reference, `${label}: same main tree as the reference`);
      assert.is(await git(c.repo.origin as string, 'rev-parse', 'main^{tree}'), reference, `${label}: origin has it`);
      if (trigger === null)
        assert.is(await git(c.repo.dir, 'rev-parse', 'main'), mainBefore, `${label}: main moved again`);
      const starts = readFileSync(c.counter, 'utf8').split('\n').filter(Boolean).sort();
      assert.equal(starts, ['1', '2', '3', '4'], `${label}: each agent started exactly once`);
      const worktrees = (await git(c.repo.dir, 'worktree', 'list', '--porcelain'))
        .split('\n')
        .filter((l) => l.startsWith('worktree '));
      assert.is(worktrees.length, 1, `${label}: no worktree left`);
      assert.not.ok(existsSync(path.join(c.repo.stateDir, 'run.lock')), `${label}: no lock left`);
      assert.is(
        await git(c.repo.dir, 'branch', '--list', 'work/*', 'milestone/*'),
        '',
        `${label}: no item or integration branch left`,
      );
      assert.match(
        await git(c.repo.dir, 'stash', 'list'),
        /work-milestone: pre-run main/,
        `${label}: the stash is kept`,
      );
      // The rebuilt state found the stash prepare made: completing reminds of it.
      const stash = await git(c.repo.dir, 'rev-parse', 'stash@{0}');
      if (trigger !== null)
        assert.match(again.stderr, `Auto-stash ref ${stash} pending`, `${label}: the stash reminder`);
    } finally {
      c.repo.cleanup();
    }
  }
});

test.run();
