/**
 * An agent that removes the integration worktree (it runs as the same user): the runner makes it again on the
 * integration branch before its next merge, with a notice, and the agent's result says the worktree went while it
 * ran. (It failed the merge with "git status … could not start … spawn git ENOENT" before.)
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, makeRepo, readEvents, readStateFile, runCli } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';

test('the integration worktree removed by an agent is made again, the run lands, and the agent is flagged', async () => {
  const remove = 'rm -rf "$(git rev-parse --show-toplevel)/../milestone-7"';
  const agent = `{ [ "$WM_ISSUE" != 1 ] || ${remove}; } && ${COMMITTING_AGENT}`;
  const [one, two] = [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
  ];
  const plan = planYaml({
    title: 'Removed',
    waves: [{ items: [one] }, { items: [two] }],
    defaults: { agent: 'command', command: agent },
  });
  const repo = await makeRepo({ plan, items: [one, two] });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push']);
    assert.is(r.code, 0, r.stderr);
    const wt = path.join(repo.dir, 'worktrees', 'milestone-7');
    const notices = readEvents(repo).filter(
      (e) => e.type === 'notice' && e.message.startsWith(`the integration worktree ${wt} was removed`),
    );
    assert.is(notices.length, 1, r.stderr);
    assert.ok(
      (readStateFile(repo).items['1'].result.flags as string[]).includes(
        `the integration worktree ${wt} was removed while this agent ran (by it or another)`,
      ),
    );
    const landed = await git(repo.dir, 'ls-tree', '--name-only', 'main');
    assert.ok(landed.includes('item-1.txt') && landed.includes('item-2.txt'), landed);
    assert.not.ok(existsSync(wt), 'removed again at the end, by the runner');
  } finally {
    repo.cleanup();
  }
});

test.run();
