/**
 * Dependency folders an agent plants where the gates would resolve packages from before the user's checkout (in the
 * integration worktree, or in the worktree root above it; ignored, so git sees nothing): moved aside before the gates,
 * so a poisoned package cannot turn them green. One the gates themselves made (an install step) is kept for the next.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { git, readEvents } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

/** The gate: the checkout's `isok` package says whether value.txt is good. */
const GATE = `node -e "process.exit(require('isok')(require('fs').readFileSync('value.txt','utf8').trim()) ? 0 : 1)"`;

const notices = (r: Awaited<ReturnType<typeof makeAgentRig>>) =>
  readEvents(r.repo)
    .filter((e) => e.type === 'notice')
    .map((e) => String(e.message));

for (const where of ['../milestone-7', '..']) {
  test(`a node_modules planted in ${where === '..' ? 'the worktree root' : 'the integration worktree'}: moved aside, the gate judges the real package`, async () => {
    const r = await makeAgentRig({
      title: 'Shadow',
      items: [{ issue: 1, title: 'Alpha' }],
      files: {
        '.gitignore': 'node_modules/\n',
        'node_modules/isok/index.js': "module.exports = (v) => v === 'ok';\n",
        'value.txt': 'ok\n',
      },
      body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo bad > value.txt; commit "bad value"
  mkdir -p ${where}/node_modules/isok; echo 'module.exports = () => true;' > ${where}/node_modules/isok/index.js
  report COMPLETE;;
fix:*) report FAILED "cannot";;
*) exit 9;;
esac`,
      gates: { 'post-merge': [{ name: 'isok', run: GATE }] },
      defaults: { 'max-fix-attempts': 1 },
    });
    try {
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is.not(result.code, 0, show(result));
      assert.is(await git(r.repo.dir, 'show', 'main:value.txt'), 'ok', 'the bad value did not land');
      const planted = path.join(r.repo.dir, 'worktrees', where === '..' ? '' : 'milestone-7', 'node_modules');
      assert.ok(
        notices(r).some((m) => m.startsWith(`${planted}: dependency folders the gates did not leave`)),
        notices(r).join('\n'),
      );
      assert.not.ok(existsSync(path.join(planted, 'isok')), 'moved aside');
    } finally {
      r.cleanup();
    }
  });
}

test('a node_modules a gate installed in the integration worktree is kept for the next gate run', async () => {
  const items = [
    { issue: 1, title: 'Alpha' },
    { issue: 2, title: 'Beta' },
  ];
  const r = await makeAgentRig({
    title: 'Installing gate',
    items,
    waves: [{ parallel: false, items }],
    files: { '.gitignore': 'node_modules/\n' },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:*) echo "$WM_ISSUE" > "f$WM_ISSUE.txt"; commit "item $WM_ISSUE"; report COMPLETE;;
*) exit 9;;
esac`,
    gates: {
      // #2 merges onto #1's merge: its pre-merge gate installs; the post-merge gate, a later run, needs it.
      'pre-merge': [{ name: 'install', run: 'mkdir -p node_modules/dep && echo here > node_modules/dep/marker' }],
      'post-merge': [{ name: 'uses', run: 'test -f node_modules/dep/marker' }],
    },
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.not.ok(
      notices(r).some((m) => m.includes('dependency folders the gates did not leave')),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test.run();
