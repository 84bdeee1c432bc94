/**
 * The runner's merges run with the committed `.gitattributes`: one an agent leaves untracked in the integration
 * worktree, or an edit it makes to a tracked one, saying `* merge=union`, would make a conflict a "clean" merge of both
 * sides' lines. Two agents at work at once (so the write is only flagged): both change the same line of shared.txt;
 * #1 also writes the attributes, once #2 has started, and #2 ends only after that. Agents wait on files, not time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { overlappingPairBody } from './support/hostile.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
];

for (const [how, write, files] of [
  ['an untracked .gitattributes', `echo '* merge=union' > ../milestone-7/.gitattributes`, {}],
  [
    'an edit to the tracked .gitattributes',
    `echo '* merge=union' >> ../milestone-7/.gitattributes`,
    { '.gitattributes': '*.txt text\n' },
  ],
] as const)
  test(`${how} saying merge=union in the integration worktree: the conflict is still one`, async () => {
    const r = await makeAgentRig({
      title: 'Attributes',
      items: ITEMS,
      waves: [{ items: ITEMS }],
      body: overlappingPairBody(
        write,
        'echo one > shared.txt; commit alpha; report COMPLETE',
        'echo two > shared.txt; commit beta; report COMPLETE',
      ),
      defaults: { concurrency: 2 },
      files: { 'shared.txt': 'base\n', ...files },
    });
    try {
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      // The second merge conflicts: its conflict agent (exit 9 here) cannot resolve it, and it is escalated.
      assert.is(result.code, 3, show(result));
      const items = readStateFile(r.repo).items;
      assert.equal(
        [items['1'].status, items['2'].status].sort(),
        ['complete', 'escalated'],
        JSON.stringify([items['1'].status, items['2'].status]),
      );
      const landed = await git(r.repo.dir, 'show', 'main:shared.txt');
      assert.ok(landed === 'one' || landed === 'two', `one side's line, not both: ${landed}`);
      const notice = readEvents(r.repo).find(
        (e) => e.type === 'notice' && /put back to what is committed before merging/.test(e.message),
      );
      assert.ok(notice, 'said so');
      const kept = /\(kept in (\S+)\)$/.exec(notice.message)?.[1] ?? '';
      assert.match(readFileSync(path.join(kept, '.gitattributes'), 'utf8'), '* merge=union');
    } finally {
      r.cleanup();
    }
  });

test.run();
