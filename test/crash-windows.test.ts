/**
 * A runner killed inside a window where it had recorded a step's decision but not yet made all of its moves: an
 * ejection recorded before the integration branch moved, a PARTIAL item's merge recorded before its follow-up was
 * written. The next run finishes what was decided as the runner's own moves: nothing is called a move "the runner did
 * not make", nothing ejected is merged again as "found", and every follow-up it reports exists.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ITEMS, makeAgentRig } from './support/agent-rig.ts';
import { git, readStateFile } from './support/fixture.ts';
import { runInProcess, runKilledAt, show } from './support/cli.ts';

test('killed right after an ejection was recorded: the next run finishes it, retries the item, lands', async () => {
  const r = await makeAgentRig({
    title: 'Honest',
    items: ITEMS,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) n=$(count two); if [ "$n" = 1 ]; then echo BUG > b.txt; else echo fine > b.txt; fi; commit "beta $n"; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
    defaults: { 'max-fix-attempts': 1 },
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'item', issue: 2, status: 'ejected' }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const again = await runInProcess('run', args);
    assert.not.match(again.stderr, /the runner did not move it/, show(again));
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha', show(again));
    assert.is(await git(r.repo.dir, 'show', 'main:b.txt').catch(() => 'none'), 'fine', 'never the ejected BUG');
    assert.is(again.code, 0, show(again));
  } finally {
    r.cleanup();
  }
});

test("killed right after a PARTIAL item's merge: its follow-up is written as the runner's own move, and lands", async () => {
  const r = await makeAgentRig({
    title: 'Honest',
    items: ITEMS,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report PARTIAL "half done";;
*) exit 9;;
esac`,
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'merge', issue: 2 }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const again = await runInProcess('run', args);
    assert.is(again.code, 0, show(again));
    const [followUp] = readStateFile(r.repo).items['2'].followUps;
    assert.ok(followUp, show(again));
    assert.match(await git(r.repo.dir, 'show', `main:plan/backlog/${followUp}.md`), /Finish #2: Beta/);
  } finally {
    r.cleanup();
  }
});

test.run();
