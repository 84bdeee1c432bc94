/**
 * The resilience promise: kill the runner (SIGKILL) at any step boundary or inside a step, run again,
 * and the milestone lands exactly as without the crash: same main tree, each agent started once per item,
 * nothing left behind, the stash kept. Kill points are chosen by watching events.jsonl, not by hooks.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertConverged, mainTree, makeCrashCase, runAndKill, runCrashCase } from './support/crash-rig.ts';
import { git } from './support/fixture.ts';

let reference = '';
let points: string[] = [];

test('reference run lands', async () => {
  const c = await makeCrashCase('Crash test');
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
    assert.ok(points.includes('merge@1') && points.includes('land') && points.includes('complete'), points.join(' '));
  } finally {
    c.repo.cleanup();
  }
});

test('killed at every step boundary, run again: same result', async () => {
  assert.ok(points.length >= 15, `the reference run gave the kill points: ${points.join(' ')}`);
  for (const node of points.filter((p, i) => points.indexOf(p) === i && p !== 'complete')) {
    const c = await makeCrashCase('Crash test');
    try {
      await runAndKill(c, (e) => (e.type === 'step-done' || e.type === 'step-skip') && e.node === node);
      await assertConverged(c, await runCrashCase(c, 120_000), reference, `after ${node}`);
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
    const c = await makeCrashCase('Crash test');
    try {
      assert.ok(await runAndKill(c, trigger, n), `${label}: the kill point was reached`);
      await assertConverged(c, await runCrashCase(c, 120_000), reference, label);
    } finally {
      c.repo.cleanup();
    }
  }
});

test.run();
