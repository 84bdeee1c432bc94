/**
 * An agent that hides files from the integration worktree's checkout (sparse-checkout, or skip-worktree marks): the
 * gates would run on part of the tree that lands, and a gate that finds nothing to check passes. When the checkout the
 * runner is run from is not sparse, the runner makes the integration worktree whole before the gates (a notice says
 * so); when it is, sparseness is the user's (git copies it into every new worktree) and is kept.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

/** The integration worktree, from an item worktree (its sibling under worktrees/). */
const INTEGRATION = '../milestone-7';

const rig = (hide: string, gated = true) =>
  makeAgentRig({
    title: 'Hostile sparse',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > src/a.txt; commit alpha; ${hide}; report COMPLETE;;
*) exit 9;;
esac`,
    // Finds nothing to check when src/ is not there (grep exits 2, and `!` makes that a pass).
    gates: gated ? { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG src' }] } : undefined,
    defaults: { 'max-fix-attempts': 0 },
    files: { 'docs/readme.txt': 'docs\n', 'src/a.txt': 'OK\n' },
  });

for (const [what, hide] of [
  ['sparse-checkout set docs', `git -C ${INTEGRATION} sparse-checkout set docs`],
  [
    'skip-worktree marks',
    `git -C ${INTEGRATION} update-index --skip-worktree src/a.txt && rm ${INTEGRATION}/src/a.txt`,
  ],
] as const) {
  test(`an agent hides files from the integration worktree (${what}): the gates see the whole tree`, async () => {
    const r = await rig(hide);
    try {
      const main = await git(r.repo.dir, 'rev-parse', 'main');
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 1, show(result));
      assert.match(result.stderr, /gate "no-bug" \(post-merge\) still fails/);
      assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
      const notices = readEvents(r.repo)
        .filter((e) => e.type === 'notice')
        .map((e) => String(e.message));
      assert.ok(
        notices.some((m) => /had files hidden from its checkout .*: made whole before the gates/.test(m)),
        notices.join('\n'),
      );
      assert.not.ok(readStateFile(r.repo).land, 'landed');
    } finally {
      r.cleanup();
    }
  });
}

test('without gates: a sparse integration worktree is made whole all the same, and the milestone lands', async () => {
  // Landing writes the backlog files in that checkout: left sparse, every landing stopped ("does not exist").
  const r = await rig(`git -C ${INTEGRATION} sparse-checkout set docs`, false);
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.ok(readStateFile(r.repo).land, 'landed');
    assert.match(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'BUG', 'the item landed');
    assert.ok(
      readEvents(r.repo).some((e) => e.type === 'notice' && /made whole before the gates/.test(e.message)),
      'said so',
    );
  } finally {
    r.cleanup();
  }
});

test.run();
