/**
 * The waves schedule starts each item's agent as soon as its own worktree exists (tasks/engine/graph.ts `addWaves`,
 * the integration slot of execute.ts): one worktree node per item, made one at a time in the plan's order, the slot
 * handed on only after the item's spawn node has started; the waves stay barriers. And `step worktrees` runs a whole
 * wave as one node (`--item`: one), its prerequisites named with a command line that runs. Real git, `command`
 * agents, runs in this process; the order asserted is the runner's own (no timing).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess } from './support/cli.ts';
import { readEvents } from './support/fixture.ts';
import { COUNTING_AGENT, show } from './support/wave-rig.ts';
import { waitForFile } from './support/wait.ts';
import { repoLockFile } from '../tasks/lib/repo-lock.ts';
import { currentOwner, tryLockFile, type LockAttempt } from '../tasks/lib/run-lock.ts';
import { assertLanded, itemDir, makeRig, runIn, stepIn, stepsOk } from './support/converge-rig.ts';

/** Two waves: #1 to #4 side by side, then #5. */
const WAVES = [
  [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
    { issue: 3, title: 'Three' },
    { issue: 4, title: 'Four' },
  ],
  [{ issue: 5, title: 'Five' }],
];

test('waves run: an item spawn starts before the next worktree; worktrees one at a time in plan order; waves stay barriers', async () => {
  const rig = await makeRig({ waves: WAVES });
  try {
    const r = await runIn(rig.repo, [], rig.env);
    await assertLanded(rig, r, [1, 2, 3, 4, 5]);
    const steps = readEvents(rig.repo)
      .filter((e) => e.type === 'step-start' || e.type === 'step-done')
      .map((e) => `${e.type} ${e.node}`);
    const at = (line: string) => {
      const i = steps.indexOf(line);
      assert.ok(i >= 0, `no "${line}" in:\n${steps.join('\n')}`);
      return i;
    };
    const before = (a: string, b: string) => assert.ok(at(a) < at(b), `"${a}" not before "${b}":\n${steps.join('\n')}`);
    // The pipelining: #1's agent is under way before #2's worktree is begun.
    before('step-done worktrees@1#1', 'step-start spawn@1#1');
    before('step-start spawn@1#1', 'step-start worktrees@1#2');
    // One at a time, in the plan's order.
    before('step-done worktrees@1#2', 'step-start spawn@1#2');
    for (const issue of [2, 3, 4]) before(`step-done worktrees@1#${issue - 1}`, `step-start worktrees@1#${issue}`);
    // The wave's wait needs every worktree of the wave; wave 2 begins after wave 1's relay.
    before('step-done worktrees@1#4', 'step-done wait@1');
    before('step-done relay@1', 'step-start worktrees@2#5');
    assert.not.ok(
      steps.some((s) => /worktrees@\d+($|\s)/.test(s)),
      `a wave-wide worktrees node ran:\n${steps.join('\n')}`,
    );
    assert.equal(rig.starts(), ['1', '2', '3', '4', '5'], 'each agent started once');
  } finally {
    rig.cleanup();
  }
});

test('waves run: an agent that ended while the worktrees of its wave are made is judged once they are all made', async () => {
  // The agent's last act: a file saying it is over (the runner's own `agent-exited` comes with the verdict).
  const rig = await makeRig({ command: `${COUNTING_AGENT} && touch "$COUNTER.ended-$WM_ISSUE"` });
  let lock: LockAttempt | null = null;
  try {
    await stepsOk(rig, ['validate', 'prepare', 'branch', 'fetch', ['worktrees', '--wave', '1', '--item', '1']]);
    // #2's worktree waits for the repository's worktree lock, held here (a holder in this process counts as alive).
    lock = tryLockFile(repoLockFile(path.join(rig.repo.dir, '.git'), 'worktrees'), currentOwner('test'));
    assert.is(lock.kind, 'taken');
    const running = runIn(rig.repo, [], rig.env);
    await waitForFile(`${rig.counter}.ended-1`, "#1's agent over");
    if (lock.kind === 'taken') lock.release();
    await assertLanded(rig, await running);
    const events = readEvents(rig.repo)
      .filter((e) => e.type === 'step-done' || (e.type === 'item' && e.status === 'complete'))
      .map((e) => (e.type === 'item' ? `judged #${e.issue}` : `${e.type} ${e.node}`));
    const at = (line: string) => events.indexOf(line);
    assert.ok(at('step-done worktrees@1#2') >= 0, events.join('\n'));
    assert.ok(at('judged #1') > at('step-done worktrees@1#2'), events.join('\n'));
  } finally {
    if (lock?.kind === 'taken') lock.release();
    rig.cleanup();
  }
});

test('step worktrees: a wave as one node, --item one; prerequisites named with a command line that runs', async () => {
  const rig = await makeRig();
  try {
    const early = await stepIn(rig.repo, 'worktrees', ['--wave', '1'], rig.env);
    assert.is(early.code, 2, show(early));
    assert.match(early.stderr, /step worktrees@1 needs fetch, which is not done \(.*\); run: .*step.* fetch 7\n/);

    await stepsOk(rig, ['validate', 'prepare', 'branch', 'fetch']);
    const spawnWave = await stepIn(rig.repo, 'spawn', ['--wave', '1'], rig.env);
    assert.is(spawnWave.code, 2, show(spawnWave));
    assert.match(
      spawnWave.stderr,
      /step spawn@1 needs worktrees@1, which is not done \(#1 has no worktree yet\); run: .*step.* worktrees 7 --wave 1\n/,
    );
    const spawnItem = await stepIn(rig.repo, 'spawn', ['--wave', '1', '--item', '2'], rig.env);
    assert.is(spawnItem.code, 2, show(spawnItem));
    const named = /; run: .*step(?:\.mts)? (worktrees 7 --wave 1 --item 2)\n/.exec(spawnItem.stderr);
    assert.ok(named, spawnItem.stderr);
    assert.match(spawnItem.stderr, 'step spawn@1#2 needs worktrees@1#2, which is not done (#2 has no worktree yet)');

    // The command the message names makes #2's worktree, and only it.
    const [name = '', ...args] = (named[1] as string).split(' ');
    const one = await runInProcess('step', [name, ...args, '--repo', rig.repo.dir], { env: rig.env });
    assert.is(one.code, 0, show(one));
    assert.match(one.stdout, /^✔ #2: create worktree$/m);
    assert.ok(existsSync(itemDir(rig.repo, 2)));
    assert.not.ok(existsSync(itemDir(rig.repo, 1)));
    assert.is(rig.starts().length, 0, 'no agent started');

    // The wave's wait needs the wave's worktrees: #1's is missing.
    const waitWave = await stepIn(rig.repo, 'wait', ['--wave', '1'], rig.env);
    assert.is(waitWave.code, 2, show(waitWave));
    assert.match(
      waitWave.stderr,
      /step wait@1 needs worktrees@1, which is not done \(#1 has no worktree yet\); run: .*step.* worktrees 7 --wave 1\n/,
    );

    const wave = await stepIn(rig.repo, 'worktrees', ['--wave', '1'], rig.env);
    assert.is(wave.code, 0, show(wave));
    assert.match(wave.stdout, /^› Wave 1: create worktrees: #1 → worktrees\/7-1-one$/m);
    assert.match(wave.stdout, /^✔ Wave 1: create worktrees$/m);
    assert.not.match(wave.stdout, /#2 →/, 'the worktree made already was made again');
    const events = readEvents(rig.repo).filter((e) => e.type === 'step-start' && /^worktrees/.test(String(e.node)));
    assert.equal(
      events.map((e) => e.node),
      ['worktrees@1#2', 'worktrees@1'],
    );
    assert.ok(existsSync(itemDir(rig.repo, 1)));

    const rest = await runIn(rig.repo, [], rig.env);
    await assertLanded(rig, rest);
    assert.equal(rig.starts(), ['1', '2']);
  } finally {
    rig.cleanup();
  }
});

test.run();
