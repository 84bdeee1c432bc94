/**
 * A state rebuilt from disk converges like a crash does (docs/state.md): the runner is SIGKILLed at points across a
 * whole milestone (after a wave's merges, agents alive in wave 2, after the gates, between landing and pushing, after
 * completing), then state.json and its backup are both truncated, and `run` again lands exactly as without the crash:
 * the same main tree (locally and on origin), each agent started once, nothing left behind, the stash kept.
 * The points follow each other in one repository: each run rebuilds the state the last kill and truncation left, and
 * is itself killed at the next point (one partial run per point instead of a fresh repository and two runs).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  assertConverged,
  assertNoRestart,
  eventCount,
  eventsSince,
  mainTree,
  makeCrashCase,
  runAndKill,
  runCrashCase,
  type CrashCase,
  type KillAt,
} from './support/crash-rig.ts';
import { git } from './support/fixture.ts';

/** Both copies of the state cut in half. */
function truncateState(c: CrashCase): void {
  for (const name of ['state.json', 'state.json.bak']) {
    const file = path.join(c.repo.stateDir, name);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length >> 1));
  }
}

let reference = '';

test('reference run lands', async () => {
  const c = await makeCrashCase('Heal test');
  try {
    const r = await runCrashCase(c);
    assert.is(r.code, 0, r.stderr);
    reference = await mainTree(c);
  } finally {
    c.repo.cleanup();
  }
});

// In the order a run meets them: each kill's run (rebuilt from the truncated state) goes on to the next point.
const POINTS: ReadonlyArray<readonly [string, KillAt]> = [
  ['after the merges of wave 1', [{ type: 'step-done', node: 'merge@1' }]],
  ['agents of wave 2 alive', [{ type: 'agent-spawned', issue: 4 }]],
  ['after the gates', [{ type: 'step-done', node: 'gates' }]],
  ['between landing and pushing', [{ type: 'land', phase: 'merged' }]],
];

const REBUILT = "rebuilt it from the milestone's files and git";

/** Whether one of `events` is the notice that state.json was rebuilt. */
function rebuiltIn(events: ReadonlyArray<Record<string, unknown>>): boolean {
  return events.some((e) => e.type === 'notice' && String(e.message).includes(REBUILT));
}

test('killed at points across the milestone, one after the other, state.json and its backup truncated after each, run again: rebuilt each time, same result, nothing redone', async () => {
  assert.ok(reference, 'the reference run gave the tree');
  const c = await makeCrashCase('Heal test');
  try {
    let truncated = false;
    for (const [label, at] of POINTS) {
      const offset = eventCount(c);
      assert.ok(await runAndKill(c, at), `${label}: the kill point was reached`);
      if (truncated) assert.ok(rebuiltIn(eventsSince(c, offset)), `${label}: the run rebuilt the state`);
      assertNoRestart(c, label);
      truncateState(c);
      truncated = true;
    }
    // From between landing and pushing: rebuilt, completes, and the rebuilt state found the stash prepare made.
    const landed = await runCrashCase(c);
    assert.match(landed.stderr, REBUILT, 'after landing');
    const stash = await git(c.repo.dir, 'rev-parse', 'stash@{0}');
    assert.match(landed.stderr, `Auto-stash ref ${stash} pending`, 'the stash reminder');
    await assertConverged(c, landed, reference, 'between landing and pushing');

    // After completing: rebuilt once more, nothing moves.
    const mainBefore = await git(c.repo.dir, 'rev-parse', 'main');
    truncateState(c);
    const again = await runCrashCase(c);
    assert.match(again.stderr, REBUILT, 'after completing');
    assert.is(await git(c.repo.dir, 'rev-parse', 'main'), mainBefore, 'after completing: main moved again');
    await assertConverged(c, again, reference, 'after completing');
  } finally {
    c.repo.cleanup();
  }
});

test.run();
