/**
 * The file backlog's stale-plan check: an item whose front matter puts it in the milestone with `status: open` and
 * that the plan does not name makes validate refuse the plan (exit 2, the file named, nothing changed), as an open
 * issue of the milestone does on GitHub; done items and items of other milestones are not staleness.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess } from './support/cli.ts';
import { itemMarkdown, makeRepo, snapshotRepo } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';

test('an open item of the milestone the plan does not name: exit 2 naming its file, nothing changed; once done, valid', async () => {
  const plan = planYaml({ title: 'Search', waves: [{ items: [{ issue: 1, title: 'Alpha' }] }] });
  const repo = await makeRepo({
    plan,
    items: [
      { issue: 1, title: 'Alpha' },
      { issue: 2, title: 'Beta, groomed later' },
      { issue: 3, title: 'Gamma', status: 'done' },
    ],
  });
  try {
    writeFileSync(path.join(repo.dir, 'plan', 'backlog', '4.md'), itemMarkdown(8, { issue: 4, title: 'Other' }));
    const before = await snapshotRepo(repo.dir);
    const stale = await runInProcess('step', ['validate', '7', '--repo', repo.dir]);
    assert.is(stale.code, 2, stale.stderr);
    assert.match(
      stale.stderr,
      'plan is stale: open item #2 (Beta, groomed later, plan/backlog/2.md) of milestone 7 is not in the plan; ' +
        'regroom milestone 7',
    );
    assert.not.match(stale.stderr, '#3');
    assert.not.match(stale.stderr, '#4');
    assert.is(await snapshotRepo(repo.dir), before, 'nothing changed');
    assert.not.ok(existsSync(path.join(repo.stateDir, 'state.json')), 'no state written');

    writeFileSync(
      path.join(repo.dir, 'plan', 'backlog', '2.md'),
      itemMarkdown(7, { issue: 2, title: 'Beta, groomed later', status: 'done' }),
    );
    const valid = await runInProcess('step', ['validate', '7', '--repo', repo.dir]);
    assert.is(valid.code, 0, valid.stderr);
  } finally {
    repo.cleanup();
  }
});

test.run();
