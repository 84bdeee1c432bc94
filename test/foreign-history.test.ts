/**
 * Commits that join the milestone without being an item's own work on its base: an item agent that merges a sibling's
 * early commit with `-s ours` (git would then take that commit as merged, and the sibling would land without it), or
 * that merges a commit from outside the milestone. The item whose merge would take them in is escalated, its branch
 * kept; everything else lands. Agents wait on refs and files the other agent writes, never on time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { git, readStateFile } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

const inHistory = (dir: string, sha: string, rev: string): Promise<boolean> =>
  git(dir, 'merge-base', '--is-ancestor', sha, rev).then(
    () => true,
    () => false,
  );

test("an item that merges a sibling's early commit with -s ours: the sibling is escalated, not landed without it", async () => {
  const items = [
    { issue: 1, title: 'Hostile' },
    { issue: 2, title: 'Victim' },
  ];
  const r = await makeAgentRig({
    title: 'Ours merge',
    items,
    waves: [{ parallel: true, items }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:2) echo one > c1.txt; commit "victim part one"; git rev-parse HEAD > "$tools/part-one"
  i=0; while [ ! -f "$tools/hostile-done" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  echo two > c2.txt; commit "victim part two"; report COMPLETE;;
item:1) i=0; while [ ! -f "$tools/part-one" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  git merge -q -s ours --no-edit "$(cat "$tools/part-one")"
  echo hostile > b.txt; commit "hostile"; touch "$tools/hostile-done"; report COMPLETE;;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['2'].status, 'escalated', show(result));
    assert.match(st.items['2'].merge.note, /its branch holds commits that are not its own work on [0-9a-f]{10}/);
    assert.is(st.items['1'].status, 'complete');
    assert.match(result.stderr, /#2 escalated: its branch holds commits/);
    // The victim's backlog item is not marked done, and its branch is kept.
    assert.not.match(await git(r.repo.dir, 'show', 'main:plan/backlog/2.md'), /status: done/);
    assert.ok(await git(r.repo.dir, 'rev-parse', '--verify', '-q', 'refs/heads/work/7-2-victim'));
  } finally {
    r.cleanup();
  }
});

test('an item that merges a commit not built on its base (-s ours): escalated; the commit never reaches main', async () => {
  const items = [
    { issue: 1, title: 'Alpha' },
    { issue: 2, title: 'Beta' },
  ];
  const r = await makeAgentRig({
    title: 'Foreign merge',
    items,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) git checkout -q --orphan side; git rm -rqf .; echo m > m.txt; git add m.txt; git commit -qm side
  git rev-parse HEAD > "$tools/side"; git checkout -q -f "$WM_BRANCH"; git branch -q -D side
  git merge -q -s ours --allow-unrelated-histories --no-edit "$(cat "$tools/side")"
  echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'escalated', show(result));
    assert.is(st.items['2'].status, 'complete');
    const side = (await git(r.repo.dir, 'show', '-s', '--format=%H', '--all', '--grep=^side$')).split('\n')[0] ?? '';
    assert.match(st.items['1'].merge.note, side.slice(0, 10));
    assert.not.ok(await inHistory(r.repo.dir, side, 'main'), "the side commit is not in main's history");
    assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'beta');
  } finally {
    r.cleanup();
  }
});

test.run();
