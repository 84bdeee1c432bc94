/**
 * A milestone killed under one schedule and resumed under the other (`run --schedule`) lands as if never killed: the
 * same main tree (locally and on origin) as an uncrashed run, every item merged once, each agent started once,
 * nothing left behind. The crash milestone of test/support/crash-rig.ts: #3 depends on #1, #4 on nothing, so `dag`
 * runs #4 with wave 1 and #3 before #2 is merged, states `waves` never makes itself.
 *
 * Kill points (SIGKILL, chosen by watching events.jsonl):
 * - dag → waves, when #3's agent starts: #1 merged, #3 of wave 2 in flight, wave 1 not finished as waves sees it.
 * - dag → waves, when #1 is merged: #2 and #4 alive or done, wave 1 half merged.
 * - waves → dag, with the agents of wave 1 alive: dag takes them over and starts #4 (and #3 once #1 is merged).
 * - waves → dag, after wave 1's merges: dag goes on from a relayed-or-not wave with its per-item nodes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  assertConverged,
  mainTree,
  makeCrashCase,
  runAndKill,
  runCrashCase,
  type KillAt,
} from './support/crash-rig.ts';
import { git, readEvents } from './support/fixture.ts';

type Schedule = 'waves' | 'dag';
let reference = '';

test('reference: an uncrashed run lands the same tree under either schedule', async () => {
  const trees: string[] = [];
  for (const schedule of ['waves', 'dag'] as const) {
    const c = await makeCrashCase('Schedule resume', schedule);
    try {
      const r = await runCrashCase(c);
      assert.is(r.code, 0, r.stderr);
      trees.push(await mainTree(c));
    } finally {
      c.repo.cleanup();
    }
  }
  assert.is(trees[0], trees[1], 'waves and dag land different trees');
  reference = trees[0] as string;
});

const CASES: ReadonlyArray<readonly [Schedule, string, KillAt]> = [
  ['dag', "when #3's agent starts", [{ type: 'agent-spawned', issue: 3 }]],
  ['dag', 'when #1 is merged', [{ type: 'merge', issue: 1 }]],
  ['waves', 'with the agents of wave 1 alive', [{ type: 'agent-spawned', issue: 2 }]],
  ['waves', "after wave 1's merges", [{ type: 'step-done', node: 'merge@1' }]],
];

for (const [first, label, at] of CASES) {
  const then: Schedule = first === 'dag' ? 'waves' : 'dag';
  test(`killed under ${first} ${label}, resumed under ${then}: lands the same`, async () => {
    assert.ok(reference, 'the reference run gave the tree');
    const c = await makeCrashCase('Schedule resume', first);
    try {
      assert.ok(await runAndKill(c, at), `${first}: the kill point was reached`);
      const before = readEvents(c.repo).length;
      const again = await runCrashCase({ ...c, schedule: then });
      await assertConverged(c, again, reference, `${first} → ${then} ${label}`);
      const merges = (await git(c.repo.dir, 'log', '--format=%s', 'main'))
        .split('\n')
        .filter((s) => s.startsWith('Merge #'))
        .map((s) => s.slice(0, s.indexOf(':')))
        .sort();
      assert.equal(merges, ['Merge #1', 'Merge #2', 'Merge #3', 'Merge #4'], 'each item merged once');
      // The resumed run walked the other graph: dag's merge nodes are per item (merge@1#1), waves' per wave (merge@1).
      const merged = readEvents(c.repo)
        .slice(before)
        .filter((e) => typeof e.node === 'string' && e.node.startsWith('merge@'))
        .map((e) => e.node as string);
      const ofThen = then === 'dag' ? /^merge@\d+#\d+$/ : /^merge@\d+$/;
      assert.ok(merged.length > 0 && merged.every((n) => ofThen.test(n)), `${then}'s nodes: ${merged.join(' ')}`);
    } finally {
      c.repo.cleanup();
    }
  });
}

test.run();
