/**
 * An agent that removes the integration worktree, or its git admin folder, or that of its own worktree (it runs as
 * the same user): the runner makes the worktree again (the integration one before its next merge, an item's before
 * its next attempt), with a notice, and the agent's result says the integration worktree went while it ran. (The merge
 * failed with "spawn git ENOENT" before, and after a removed admin folder every later run failed: "… already
 * exists".)
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, readEvents, readStateFile, runCli, type CliResult, type TestRepo } from './support/fixture.ts';
import { hostileMilestone } from './support/hostile.ts';

/** `run 7` to the end (exit 0). */
async function runToEnd(repo: TestRepo): Promise<CliResult> {
  const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push']);
  assert.is(r.code, 0, r.stderr);
  return r;
}

/** The notices of the run that `match` accepts. */
const noticesOf = (repo: TestRepo, match: (message: string) => boolean): string[] =>
  readEvents(repo)
    .filter((e) => e.type === 'notice' && match(String(e.message)))
    .map((e) => String(e.message));

/** Both items' files are on main. */
async function assertBothLanded(repo: TestRepo): Promise<void> {
  const landed = await git(repo.dir, 'ls-tree', '--name-only', 'main');
  assert.ok(landed.includes('item-1.txt') && landed.includes('item-2.txt'), landed);
}

test('the integration worktree removed by an agent is made again, the run lands, and the agent is flagged', async () => {
  const repo = await hostileMilestone({
    title: 'Removed',
    hostile: 'rm -rf "$(git rev-parse --show-toplevel)/../milestone-7"',
  });
  try {
    const r = await runToEnd(repo);
    const wt = path.join(repo.dir, 'worktrees', 'milestone-7');
    assert.is(noticesOf(repo, (m) => m.startsWith(`the integration worktree ${wt} was removed`)).length, 1, r.stderr);
    assert.ok(
      (readStateFile(repo).items['1'].result.flags as string[]).includes(
        `the integration worktree ${wt} was removed while this agent ran (by it or another)`,
      ),
    );
    await assertBothLanded(repo);
    assert.not.ok(existsSync(wt), 'removed again at the end, by the runner');
  } finally {
    repo.cleanup();
  }
});

test("the integration worktree's git admin folder removed: its files are moved aside, kept, and it is made again", async () => {
  const repo = await hostileMilestone({
    title: 'Admin',
    hostile: 'rm -rf "$(git rev-parse --path-format=absolute --git-common-dir)/worktrees/milestone-7"',
  });
  try {
    const r = await runToEnd(repo);
    const wt = path.join(repo.dir, 'worktrees', 'milestone-7');
    const [notice = ''] = noticesOf(repo, (m) =>
      m.startsWith(`the integration worktree ${wt} lost its git admin folder`),
    );
    assert.ok(notice, r.stderr);
    const aside = /its files are kept in (\S+) /.exec(notice)?.[1] ?? '';
    assert.ok(existsSync(path.join(aside, 'README.md')), `the files are kept in ${aside}`);
    await assertBothLanded(repo);
  } finally {
    repo.cleanup();
  }
});

test('an item worktree whose git admin folder its agent removed: set aside and made again for the next attempt', async () => {
  // The first attempt removes its own worktree's admin folder before it commits (its git then fails); the second works.
  const repo = await hostileMilestone({
    title: 'Item admin',
    hostile: '[ "$WM_ATTEMPT" != 1 ] || { rm -rf "$(git rev-parse --absolute-git-dir)"; exit 1; }',
    single: true,
    defaults: { retries: 1 },
  });
  try {
    const r = await runToEnd(repo);
    const wt = path.join(repo.dir, 'worktrees', '7-1-one');
    const [notice = ''] = noticesOf(repo, (m) => m.startsWith(`#1: its worktree ${wt} lost its git admin folder`));
    assert.ok(notice, r.stderr);
    assert.match(notice, /; recreated it on work\/7-1-one$/);
    assert.is(readStateFile(repo).items['1'].attempts, 2);
    assert.ok((await git(repo.dir, 'ls-tree', '--name-only', 'main')).includes('item-1.txt'));
  } finally {
    repo.cleanup();
  }
});

test('an item worktree that lost its admin folder after its work: the milestone lands, the folder is kept and listed', async () => {
  const repo = await hostileMilestone({
    title: 'After',
    hostile: 'rm -rf "$(git rev-parse --absolute-git-dir)"',
    after: true,
    single: true,
  });
  try {
    await runToEnd(repo);
    assert.ok((await git(repo.dir, 'ls-tree', '--name-only', 'main')).includes('item-1.txt'));
    const wt = path.join(repo.dir, 'worktrees', '7-1-one');
    assert.ok(existsSync(path.join(wt, 'item-1.txt')), 'its files are not removed');
    const report = readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8');
    assert.match(
      report,
      `- worktrees/7-1-one (lost its git admin folder ${path.join(repo.dir, '.git', 'worktrees', '7-1-one')}: git no longer sees a worktree there; look, then remove the folder)`,
    );
  } finally {
    repo.cleanup();
  }
});

test("an agent that empties .git/info/exclude: the runner's lines come back, nobody is flagged, the milestone lands", async () => {
  const repo = await hostileMilestone({
    title: 'Exclude',
    hostile: ': > "$(git rev-parse --path-format=absolute --git-common-dir)/info/exclude"',
  });
  try {
    // Before, landing refused the checkout as dirty and told the user to commit or stash the runner's worktrees.
    const r = await runToEnd(repo);
    const back = noticesOf(repo, (m) => m.startsWith(".git/info/exclude had lost the runner's lines (/worktrees/"));
    assert.is(back.length, 1, r.stderr);
    const items = readStateFile(repo).items;
    assert.equal([...items['1'].result.flags, ...items['2'].result.flags], []);
    assert.match(readFileSync(path.join(repo.dir, '.git', 'info', 'exclude'), 'utf8'), /^\/worktrees\/$/m);
  } finally {
    repo.cleanup();
  }
});

test('worktrees someone locked: the integration one is unlocked and removed (notice), an item one is kept and listed', async () => {
  const top = '"$(git rev-parse --show-toplevel)"';
  const repo = await hostileMilestone({
    title: 'Locked',
    hostile: `git worktree lock --reason hostile ${top}/../milestone-7 && git worktree lock --reason mine ${top}`,
  });
  try {
    // Before, complete failed on every run: "cannot remove a locked working tree".
    const r = await runToEnd(repo);
    const wt = path.join(repo.dir, 'worktrees', 'milestone-7');
    const unlocked = `${wt} was locked (not by the runner; reason: hostile); unlocked it to remove it`;
    assert.is(noticesOf(repo, (m) => m === unlocked).length, 1, r.stderr);
    assert.not.ok(existsSync(wt));
    const report = readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8');
    assert.match(
      report,
      '- worktrees/7-1-one (locked: mine; to remove it: git worktree unlock worktrees/7-1-one && git worktree remove worktrees/7-1-one)',
    );
    assert.ok(existsSync(path.join(repo.dir, 'worktrees', '7-1-one', 'item-1.txt')), 'the locked worktree is kept');
    assert.match(await git(repo.dir, 'branch', '--list', 'work/7-1-one'), /work\/7-1-one/, 'with its branch');
    assert.match(report, '- work/7-1-one (its worktree is kept)');
  } finally {
    repo.cleanup();
  }
});

test("garbage in the integration worktree's HEAD file: set aside and made again, the milestone lands", async () => {
  const repo = await hostileMilestone({
    title: 'Head',
    hostile: 'echo garbage > "$(git rev-parse --path-format=absolute --git-common-dir)/worktrees/milestone-7/HEAD"',
  });
  try {
    // Before, every run failed: "git status … not a git repository".
    const r = await runToEnd(repo);
    const head = path.join(repo.dir, '.git', 'worktrees', 'milestone-7', 'HEAD');
    assert.is(noticesOf(repo, (m) => m.includes(`has a HEAD git cannot read (${head})`)).length, 1, r.stderr);
    await assertBothLanded(repo);
  } finally {
    repo.cleanup();
  }
});

test.run();
