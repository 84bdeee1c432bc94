/**
 * A state rebuilt from disk converges like a crash does (docs/state.md): the runner is SIGKILLed at points across a
 * whole milestone (agents alive in wave 2, after a wave's merges, after the gates, between landing and pushing, after
 * completing), then state.json and its backup are both truncated, and `run` again lands exactly as without the crash:
 * the same main tree (locally and on origin), each agent started once, nothing left behind, the stash kept.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  assertConverged,
  mainTree,
  makeCrashCase,
  runAndKill,
  runCrashCase,
  type CrashCase,
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
    const c = await makeCrashCase('Heal test');
    try {
      const killed = await runAndKill(c, trigger);
      assert.is(killed, trigger !== null, `${label}: the kill point was reached`);
      const mainBefore = await git(c.repo.dir, 'rev-parse', 'main');
      truncateState(c);
      const again = await runCrashCase(c, 120_000);
      assert.match(again.stderr, "rebuilt it from the milestone's files and git", label);
      if (trigger === null)
        assert.is(await git(c.repo.dir, 'rev-parse', 'main'), mainBefore, `${label}: main moved again`);
      await assertConverged(c, again, reference, label);
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
