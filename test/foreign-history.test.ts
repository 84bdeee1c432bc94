/**
 * Commits that join the milestone without being an item's own work on its base: an item agent that merges a sibling's
 * early commit with `-s ours` (git would then take that commit as merged, and the sibling would land without it), or
 * that merges a commit from outside the milestone. The item whose merge would take them in is escalated, its branch
 * kept; everything else lands. Agents wait on refs and files the other agent writes, never on time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { git, readStateFile } from './support/fixture.ts';
import { runInProcess, show, type CliResult } from './support/cli.ts';

/** The hostile item: it merges the victim's commit named in $tools/part-one (once there) with -s ours. */
const HOSTILE = `i=0; while [ ! -f "$tools/part-one" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  git merge -q -s ours --no-edit "$(cat "$tools/part-one")"; echo hostile > b.txt; commit "hostile"; report COMPLETE`;

/** The victim goes on once the hostile item is judged (its pin written): it finishes, and merges, second. */
const AFTER_HOSTILE_JUDGED = `i=0; while ! git rev-parse -q --verify refs/work-milestone/7/items/1 >/dev/null && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done`;

/** Items #1 and #2 of a test milestone. */
const pair = (one: string, two: string) => [
  { issue: 1, title: one },
  { issue: 2, title: two },
];

/** The run exited 3 with #2 escalated for strays (its note matching `note`), its backlog item not marked done. */
async function assertVictimEscalated(r: AgentRig, result: CliResult, note: RegExp): Promise<void> {
  assert.is(result.code, 3, show(result));
  const st = readStateFile(r.repo);
  assert.is(st.items['2'].status, 'escalated', show(result));
  assert.match(st.items['2'].merge.note, note);
  assert.not.match(await git(r.repo.dir, 'show', 'main:plan/backlog/2.md'), /status: done/);
}

const inHistory = (dir: string, sha: string, rev: string): Promise<boolean> =>
  git(dir, 'merge-base', '--is-ancestor', sha, rev).then(
    () => true,
    () => false,
  );

test("an item that merges a sibling's early commit with -s ours: the sibling is escalated, not landed without it", async () => {
  const items = pair('Hostile', 'Victim');
  const r = await makeAgentRig({
    title: 'Ours merge',
    items,
    waves: [{ parallel: true, items }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:2) echo one > c1.txt; commit "victim part one"; git rev-parse HEAD > "$tools/part-one"
  ${AFTER_HOSTILE_JUDGED}
  echo two > c2.txt; commit "victim part two"; report COMPLETE;;
item:1) ${HOSTILE};;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    await assertVictimEscalated(
      r,
      result,
      /its branch holds commits that are not its own work on [0-9a-f]{10} \([0-9a-f]{10}, [0-9a-f]{10}: the merge of #1 brought them into milestone\/7-ours-merge already\)/,
    );
    assert.is(readStateFile(r.repo).items['1'].status, 'complete');
    assert.match(result.stderr, /#2 escalated: its branch holds commits/);
    // The victim's branch is kept.
    assert.ok(await git(r.repo.dir, 'rev-parse', '--verify', '-q', 'refs/heads/work/7-2-victim'));
  } finally {
    r.cleanup();
  }
});

test("an item that merges a sibling's whole branch with -s ours: the sibling is escalated, not reported landed", async () => {
  const items = pair('Hostile', 'Victim');
  const r = await makeAgentRig({
    title: 'Ours merge',
    items,
    waves: [{ parallel: true, items }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:2) echo one > c1.txt; commit "victim, all of it"; git rev-parse HEAD > "$tools/part-one"
  ${AFTER_HOSTILE_JUDGED}; report COMPLETE;;
item:1) ${HOSTILE};;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    await assertVictimEscalated(
      r,
      result,
      /its branch holds commits that are not its own work .*: the merge of #1 brought/,
    );
  } finally {
    r.cleanup();
  }
});

for (const how of ['merges', 'rebases onto']) {
  test(`dag: an item that ${how} the integration branch once a sibling merged lands as its own work`, async () => {
    const items = pair('Alpha', 'Beta');
    const op = how === 'merges' ? 'git merge -q --no-edit "$int"' : 'git rebase -q "$int"';
    const r = await makeAgentRig({
      title: 'Dag',
      items,
      waves: [{ parallel: true, items }],
      defaults: { schedule: 'dag' },
      body: `int=milestone/7-dag
case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; start=$(git rev-parse "$int")
  i=0; while [ "$(git rev-parse "$int")" = "$start" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  ${op}; echo beta2 >> b.txt; commit beta2; report COMPLETE;;
*) exit 9;;
esac`,
    });
    try {
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 0, show(result));
      assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'beta\nbeta2');
      assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha');
    } finally {
      r.cleanup();
    }
  });
}

test('an item that merges a commit not built on its base (-s ours): escalated; the commit never reaches main', async () => {
  const items = pair('Alpha', 'Beta');
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

test('the hostile item needs a pre-merge fix first: the sibling is still escalated (its first commit never lost)', async () => {
  const items = [
    { issue: 1, title: 'Hostile' },
    { issue: 2, title: 'Victim' },
    { issue: 3, title: 'First' },
  ];
  const waitPin = (issue: number) =>
    `i=0; while ! git rev-parse -q --verify refs/work-milestone/7/items/${issue} >/dev/null && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done`;
  const r = await makeAgentRig({
    title: 'Ours merge',
    items,
    waves: [{ parallel: true, items }],
    // #3 merges first, so the hostile item's merge gets a pre-merge gate run, red; its fix makes a new tip.
    gates: { 'pre-merge': [{ name: 'no-broken', run: '! test -f broken.txt' }] },
    defaults: { concurrency: 3 },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:3) echo first > f.txt; commit first; report COMPLETE;;
item:2) echo one > c1.txt; commit "victim part one"; git rev-parse HEAD > "$tools/part-one"
  ${waitPin(1)}; echo two > c2.txt; commit "victim part two"; report COMPLETE;;
item:1) ${waitPin(3)}; i=0; while [ ! -f "$tools/part-one" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done
  git merge -q -s ours --no-edit "$(cat "$tools/part-one")"; echo hostile > b.txt; echo x > broken.txt; commit hostile
  report COMPLETE;;
fix:1) git rm -q broken.txt; commit fix; report COMPLETE;;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    await assertVictimEscalated(r, result, /its branch holds commits that are not its own work/);
    assert.ok(
      r.agent.calls().some((c) => c.role === 'fix' && c.issue === '1'),
      'the hostile item got its pre-merge fix',
    );
  } finally {
    r.cleanup();
  }
});

test("squash merges: an item built on a sibling's commit lands (squashing takes no commit into the branch)", async () => {
  const items = pair('Alpha', 'Beta');
  const r = await makeAgentRig({
    title: 'Shared',
    items,
    waves: [{ parallel: true, items }],
    defaults: { merge: 'squash' },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; git rev-parse HEAD > "$tools/a1"; report COMPLETE;;
item:2) ${AFTER_HOSTILE_JUDGED}; git reset -q --hard "$(cat "$tools/a1")"; echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha');
    assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'beta');
  } finally {
    r.cleanup();
  }
});

test.run();
