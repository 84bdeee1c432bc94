/**
 * A clean merge is made by one `git merge --no-ff` (merging/merge-item.ts): an item whose commits change nothing in
 * the end (a file added, then removed) is still merged, and recorded as `empty`, not `clean`; one with a change is
 * `clean` and its file lands.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { State } from '../tasks/lib/state-types.ts';
import { COMMITTING_AGENT, git, makeRepo, runCli } from './support/fixture.ts';

const NET_EMPTY = `if [ "$WM_ISSUE" = 2 ]; then printf 'x\\n' > tmp.txt && git add tmp.txt && git commit -qm add && git rm -q tmp.txt && git commit -qm remove && printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\nNOTES: added and removed\\n' "$WM_BRANCH"; else ${COMMITTING_AGENT}; fi`;

test('a net-empty item merges as empty, a changing one as clean, both in one wave', async () => {
  const plan = `milestone: {number: 7, title: "Empty"}
waves:
  - wave: 1
    items:
      - {issue: 1, title: "Writes"}
      - {issue: 2, title: "Adds and removes"}
defaults: {agent: command, command: ${JSON.stringify(NET_EMPTY)}, concurrency: 2}
`;
  const repo = await makeRepo({
    plan,
    items: [
      { issue: 1, title: 'Writes' },
      { issue: 2, title: 'Adds and removes' },
    ],
  });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(r.code, 0, r.stderr);
    const state = JSON.parse(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8')) as State;
    assert.is(state.items['1']?.merge?.kind, 'clean');
    assert.is(state.items['2']?.merge?.kind, 'empty');
    const files = (await git(repo.dir, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    assert.ok(files.includes('item-1.txt'));
    assert.not.ok(files.includes('tmp.txt'));
    // Both were merged with merge commits carrying the queue's message.
    const subjects = await git(repo.dir, 'log', '--format=%s', 'main');
    assert.match(subjects, /Merge #1: Writes/);
    assert.match(subjects, /Merge #2: Adds and removes/);
  } finally {
    repo.cleanup();
  }
});

test.run();
