/**
 * A merge the runner made but did not record (it was killed while that merge's pre-merge gates ran) is not taken as
 * merged on the next run: its gates never passed. It is gated then, as it is (a conflict agent's resolution kept, no
 * second agent), as an uninterrupted run would have (a red one escalates the item at its merge), instead of being left
 * to the gates step at the end, where a red gate costs fix agents on the whole milestone and a bisection. The kill
 * lands at an event, never at a time (WM_KILL_AFTER_EVENT).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { BREAKING_CALC_ITEMS, CALC, CALC_ITEMS, CONFLICT_BY_PID, conflictAgentPids } from './support/merge-rig.ts';
import { runInProcess, runKilledAt, show } from './support/cli.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';

const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
];

test('killed between a merge and the end of its pre-merge gates: run again gates that merge, and a red gate escalates the item there', async () => {
  const r = await makeAgentRig({
    title: 'Gate cut short',
    items: ITEMS,
    // One parallel wave: the second merge is made on the first, so its pre-merge gates run. #2 finishes once #1 is
    // judged (its pin written), so #2's is the second merge.
    waves: [{ parallel: true, items: ITEMS }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) i=0; while ! git rev-parse -q --verify refs/work-milestone/7/items/1 >/dev/null && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
    // "first" passes; "second" says the two items clash. The first run is killed once "first" has reported.
    gates: {
      'pre-merge': [
        { name: 'first', run: 'true' },
        { name: 'second', run: '! (test -f a.txt && test -f b.txt)' },
      ],
    },
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'gate', name: 'first', phase: 'pre-merge' }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    assert.not.ok(
      readEvents(r.repo).some((e) => e.type === 'gate' && e.name === 'second'),
      'the killed run never ran the second gate',
    );
    const again = await runInProcess('run', args);
    assert.is(again.code, 3, show(again));
    assert.match(again.stderr, /#2 escalated: pre-merge gates still red after a fix/, show(again));
    assert.ok(
      readEvents(r.repo).some(
        (e) =>
          e.type === 'notice' &&
          String(e.message).startsWith('#2: its merge was found on the integration branch after a restart'),
      ),
    );
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'complete');
    assert.is(st.items['2'].status, 'escalated');
    const onMain = (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    assert.ok(onMain.includes('a.txt'));
    assert.not.ok(onMain.includes('b.txt'), 'the merge whose gate is red is not on main');
    // #2's merge was gated red twice (before and after its fix agent; between them, green on the tip without it);
    // then green once, in the gates step on a HEAD without it.
    const second = readEvents(r.repo).filter((e) => e.type === 'gate' && e.name === 'second');
    assert.equal(
      second.map((e) => e.exitCode),
      [1, 0, 1, 0],
      JSON.stringify(second),
    );
    for (const e of [second[0], second[2]])
      assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', String(e.sha)), 'Merge #2: Beta');
  } finally {
    r.cleanup();
  }
});

test('a conflict merge cut short before its pre-merge gates: gated as it is after the restart, no second conflict agent', async () => {
  const r = await makeAgentRig({
    title: 'Resolved then cut',
    items: ITEMS,
    waves: [{ parallel: true, items: ITEMS }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
${CONFLICT_BY_PID}
*) exit 9;;
esac`,
    gates: { 'pre-merge': [{ name: 'first', run: 'true' }] },
    files: { 'calc.js': CALC },
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'gate', name: 'first', phase: 'pre-merge' }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const again = await runInProcess('run', args);
    assert.is(again.code, 0, show(again));
    const agents = conflictAgentPids(r.tools);
    assert.is(agents.length, 1, 'one conflict agent in all');
    assert.match(await git(r.repo.dir, 'show', 'main:calc.js'), new RegExp(`// ${agents[0]}$`, 'm'));
    assert.ok(
      readEvents(r.repo).some((e) => e.type === 'notice' && /gating it now$/.test(String(e.message))),
      'the restart said so',
    );
  } finally {
    r.cleanup();
  }
});

test('killed while a red conflict merge is checked without the item: run again keeps that merge, no second conflict agent', async () => {
  const r = await makeAgentRig({
    title: 'Checked then cut',
    items: ITEMS,
    waves: [{ parallel: true, items: ITEMS }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
${BREAKING_CALC_ITEMS}
${CONFLICT_BY_PID}
fix:*) git rm -q broken.txt; git commit -qm "drop broken.txt"; report COMPLETE "dropped";;
*) exit 9;;
esac`,
    gates: { 'pre-merge': [{ name: 'no-broken', run: '! test -f broken.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    files: { 'calc.js': CALC },
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    // The second red result: the check without the item (the first is the merge's own), before anything is recorded.
    const killed = await runKilledAt(args, [{ type: 'gate', name: 'no-broken', exitCode: 1 }], 2);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const again = await runInProcess('run', args);
    assert.is(again.code, 0, show(again));
    const agents = conflictAgentPids(r.tools);
    assert.is(agents.length, 1, 'one conflict agent in all');
    assert.match(await git(r.repo.dir, 'show', 'main:calc.js'), new RegExp(`// ${agents[0]}$`, 'm'));
  } finally {
    r.cleanup();
  }
});

test.run();
