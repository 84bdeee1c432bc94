/**
 * The resilience promise: kill the runner (SIGKILL) at any step boundary or inside a step, run again,
 * and the milestone lands exactly as without the crash: same main tree, each agent started once per item,
 * nothing left behind, the stash kept. Kill points are chosen by watching events.jsonl, not by hooks.
 *
 * Both schedules, each killed at every node boundary and at every inside point. The kills of one kind follow each other
 * in one repository: the run is killed at the first point, run again and killed at the next, and so on, then run to
 * its end. Each kill leaves the state that point leaves (the run before it resumed, ran the nodes up to the point,
 * and was killed there), at the cost of one partial run per point instead of a fresh repository and two runs; it also
 * proves that crashes one after another converge. After each kill no agent has been started twice; at the end the
 * landed tree is the reference's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  assertConverged,
  assertNoRestart,
  mainTree,
  makeCrashCase,
  runAndKill,
  runCrashCase,
  type KillAt,
} from './support/crash-rig.ts';
import { git } from './support/fixture.ts';

for (const schedule of ['waves', 'dag'] as const) {
  let reference = '';
  let points: string[] = [];

  test(`${schedule}: reference run lands`, async () => {
    const c = await makeCrashCase('Crash test', schedule);
    try {
      const r = await runCrashCase(c);
      assert.is(r.code, 0, r.stderr);
      reference = await mainTree(c);
      assert.match(await git(c.repo.dir, 'show', 'main:CHANGELOG.md'), /- change 1\n- change 2/);
      const events = readFileSync(path.join(c.repo.stateDir, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; node?: string });
      points = events.filter((e) => e.type === 'step-done' || e.type === 'step-skip').map((e) => e.node as string);
      const merge1 = schedule === 'dag' ? 'merge@1#1' : 'merge@1';
      assert.ok(points.includes(merge1) && points.includes('land') && points.includes('complete'), points.join(' '));
    } finally {
      c.repo.cleanup();
    }
  });

  test(`${schedule}: killed at every step boundary, one after the other, run again: same result`, async () => {
    assert.ok(points.length >= 15, `the reference run gave the kill points: ${points.join(' ')}`);
    const chosen = points.filter((p, i) => points.indexOf(p) === i && p !== 'complete');
    const c = await makeCrashCase('Crash test', schedule);
    try {
      for (const node of chosen) {
        const killed = await runAndKill(c, [
          { type: 'step-done', node },
          { type: 'step-skip', node },
        ]);
        assert.ok(killed, `${schedule}: the run reached ${node}`);
        assertNoRestart(c, `${schedule}: after ${node}`);
      }
      await assertConverged(c, await runCrashCase(c), reference, `${schedule}: after ${chosen.join(', ')}`);
    } finally {
      c.repo.cleanup();
    }
  });

  // Waves: #4's worktree is begun once #3's is made (and #3's agent started); dag: #3's, the first of wave 2.
  const worktrees2 = schedule === 'dag' ? 'worktrees@2#3' : 'worktrees@2#4';
  // In the order a run meets them (each kill's resumed run goes on to the next).
  const INSIDE: ReadonlyArray<readonly [string, KillAt, number]> = [
    ['during wait with agents alive', [{ type: 'agent-spawned', issue: 2 }], 1],
    ['right after an agent ended', [{ type: 'agent-exited' }], 1],
    ['between two merges of wave 1', [{ type: 'merge' }], 1],
    ['between worktrees of wave 2', [{ type: 'step-start', node: worktrees2 }], 1],
    ['between land merge and push', [{ type: 'land', phase: 'merged' }], 1],
  ];

  test(`${schedule}: killed inside steps, one after the other, run again: same result`, async () => {
    const c = await makeCrashCase('Crash test', schedule);
    try {
      for (const [label, at, n] of INSIDE) {
        assert.ok(await runAndKill(c, at, n), `${schedule}: ${label}: the kill point was reached`);
        assertNoRestart(c, `${schedule}: ${label}`);
      }
      await assertConverged(c, await runCrashCase(c), reference, `${schedule}: inside points`);
    } finally {
      c.repo.cleanup();
    }
  });
}

test.run();
