/**
 * Repository-wide issue numbers of new file-backlog items: backlogs rooted in different worktrees of one repository
 * (two milestones' integration worktrees) never pick the same number, in one process or in two at once.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFileBacklog } from '../tasks/backlog/file-backlog.ts';
import { highestOnBranches, issueNumbersFile, repoIssueAllocator } from '../tasks/backlog/issue-numbers.ts';
import { repoLockFile } from '../tasks/lib/repo-lock.ts';
import { git, itemMarkdown, makeRepo, ROOT, type TestRepo } from './support/fixture.ts';
import { collect } from './support/cli.ts';

const DIR = 'plan/backlog';

interface Rig {
  readonly repo: TestRepo;
  readonly commonDir: string;
  /** Two linked worktrees, as two milestones' integration worktrees. */
  readonly a: string;
  readonly b: string;
}

/** A repository with items 1–3 on main and two worktrees on their own branches. */
async function rig(): Promise<Rig> {
  const repo = await makeRepo({
    plan: 'unused: true\n',
    items: [1, 2, 3].map((issue) => ({ issue, title: `Item ${issue}` })),
  });
  const a = path.join(repo.root, 'wt-a');
  const b = path.join(repo.root, 'wt-b');
  await git(repo.dir, 'worktree', 'add', '-q', '-b', 'milestone/7', a, 'main');
  await git(repo.dir, 'worktree', 'add', '-q', '-b', 'milestone/8', b, 'main');
  return { repo, commonDir: path.join(repo.dir, '.git'), a, b };
}

const allocatorOf = (r: Rig, cwd: string) =>
  repoIssueAllocator({ commonDir: r.commonDir, cwd, dir: DIR, command: 'test' });
const backlogIn = (r: Rig, root: string) => createFileBacklog(root, DIR, { allocate: allocatorOf(r, root) });
const lastRecorded = (r: Rig): unknown => JSON.parse(readFileSync(issueNumbersFile(r.commonDir), 'utf8'));
const numbersIn = (root: string): number[] =>
  readdirSync(path.join(root, DIR))
    .map((n) => parseInt(n, 10))
    .sort((x, y) => x - y);

test('two backlogs in two worktrees of one repository get distinct numbers, recorded in backlog-numbers.json', async () => {
  const r = await rig();
  try {
    const a = backlogIn(r, r.a);
    const b = backlogIn(r, r.b);
    const first = await a.createItem({ title: 'Finish #1', milestone: 7, sections: {} });
    const second = await b.createItem({ title: 'Finish #2', milestone: 8, sections: {} });
    const third = await a.createItem({ title: 'Finish #3', milestone: 7, sections: {} });
    assert.equal([first.issue, second.issue, third.issue], [4, 5, 6]);
    assert.equal(lastRecorded(r), { last: 6 });
    assert.equal(numbersIn(r.a), [1, 2, 3, 4, 6]);
    assert.equal(numbersIn(r.b), [1, 2, 3, 5]);
    // Without the allocator each folder only knows its own files: the same number again (what the allocator prevents).
    assert.is((await createFileBacklog(r.b, DIR).createItem({ title: 'local', milestone: 8, sections: {} })).issue, 6);
    assert.not.ok(existsSync(repoLockFile(r.commonDir, 'backlog-numbers')), 'the lock is released');
  } finally {
    r.repo.cleanup();
  }
});

test('numbers on any branch, the recorded last number and atLeast are all respected', async () => {
  const r = await rig();
  try {
    // Item 40 committed on another branch only (not checked out anywhere), 12 on main.
    await git(r.repo.dir, 'checkout', '-q', '-b', 'elsewhere');
    writeFileSync(path.join(r.repo.dir, DIR, '40.md'), itemMarkdown(9, { issue: 40, title: 'Far' }));
    await git(r.repo.dir, 'add', '-A');
    await git(r.repo.dir, 'commit', '-q', '-m', 'item 40');
    // A name no backlog uses, on a branch of an agent's: not counted (every number after it would be invalid).
    writeFileSync(path.join(r.repo.dir, DIR, '99999999999999999999.md'), 'junk\n');
    await git(r.repo.dir, 'add', '-A');
    await git(r.repo.dir, 'commit', '-q', '-m', 'junk');
    await git(r.repo.dir, 'checkout', '-q', 'main');
    writeFileSync(path.join(r.repo.dir, DIR, '12.md'), itemMarkdown(9, { issue: 12, title: 'Near' }));
    await git(r.repo.dir, 'add', '-A');
    await git(r.repo.dir, 'commit', '-q', '-m', 'item 12');
    assert.is(await highestOnBranches(r.a, DIR), 40);
    assert.is(await highestOnBranches(r.a, 'plan/nowhere'), 0);
    const allocate = allocatorOf(r, r.a);
    assert.is(await allocate(1), 41);
    assert.is(await allocate(1), 42, 'the recorded number is not handed out twice');
    // A branch made since (its tree not listed before) counts at the next number.
    await git(r.repo.dir, 'checkout', '-q', '-b', 'later');
    writeFileSync(path.join(r.repo.dir, DIR, '70.md'), itemMarkdown(9, { issue: 70, title: 'Later' }));
    await git(r.repo.dir, 'add', '-A');
    await git(r.repo.dir, 'commit', '-q', '-m', 'item 70');
    await git(r.repo.dir, 'checkout', '-q', 'main');
    assert.is(await allocate(1), 71);
    assert.is(await allocate(100), 100);
    assert.equal(lastRecorded(r), { last: 100 });
    // A number taken on disk that nobody recorded (a file made by hand) is skipped: the next one is asked for.
    writeFileSync(path.join(r.b, DIR, '101.md'), itemMarkdown(8, { issue: 101, title: 'By hand' }));
    assert.is((await backlogIn(r, r.b).createItem({ title: 'next', milestone: 8, sections: {} })).issue, 102);
  } finally {
    r.repo.cleanup();
  }
});

test('a broken record is reported, not silently restarted from 1', async () => {
  const r = await rig();
  try {
    mkdirSync(path.dirname(issueNumbersFile(r.commonDir)), { recursive: true });
    writeFileSync(issueNumbersFile(r.commonDir), '{"last": "x"}\n');
    await allocatorOf(
      r,
      r.a,
    )(1).then(
      () => assert.unreachable('should have thrown'),
      (e: unknown) => {
        assert.match((e as Error).message, 'backlog-numbers.json has no valid "last" number');
      },
    );
  } finally {
    r.repo.cleanup();
  }
});

/** A child process that creates `count` items in the backlog rooted at `root` and prints their numbers. */
function createInChild(
  r: Rig,
  root: string,
  milestone: number,
  count: number,
): Promise<{ code: number | null; out: string }> {
  const url = (file: string) => JSON.stringify(new URL(`file://${path.join(ROOT, file)}`).href);
  const code = `
    const { createFileBacklog } = await import(${url('tasks/backlog/file-backlog.ts')});
    const { repoIssueAllocator } = await import(${url('tasks/backlog/issue-numbers.ts')});
    const [root, commonDir, milestone, count] = process.argv.slice(1);
    const b = createFileBacklog(root, ${JSON.stringify(DIR)}, { allocate: repoIssueAllocator({ commonDir, cwd: root, dir: ${JSON.stringify(DIR)}, command: 'test' }) });
    for (let i = 0; i < Number(count); i++) console.log((await b.createItem({ title: 'child ' + milestone + ' ' + i, milestone: Number(milestone), sections: {} })).issue);
  `;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', code, root, r.commonDir, String(milestone), String(count)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // The numbers are stdout's lines; stderr only explains a failure.
  return collect(child).then((r) => ({ code: r.code, out: r.code === 0 ? r.stdout : `${r.stdout}${r.stderr}` }));
}

test('two processes creating items in two worktrees at once never share a number', async () => {
  const r = await rig();
  try {
    const [a, b] = await Promise.all([createInChild(r, r.a, 7, 8), createInChild(r, r.b, 8, 8)]);
    assert.is(a.code, 0, a.out);
    assert.is(b.code, 0, b.out);
    const numbers = [...a.out.trim().split('\n'), ...b.out.trim().split('\n')].map(Number);
    assert.is(numbers.length, 16);
    assert.equal(
      [...numbers].sort((x, y) => x - y),
      Array.from({ length: 16 }, (_, i) => i + 4),
      numbers.join(' '),
    );
    assert.equal(lastRecorded(r), { last: 19 });
    // Each child's files are the numbers it printed, and each says its own milestone.
    assert.equal(
      numbersIn(r.a).filter((n) => n > 3),
      a.out
        .trim()
        .split('\n')
        .map(Number)
        .sort((x, y) => x - y),
    );
    for (const n of numbersIn(r.b).filter((x) => x > 3))
      assert.match(readFileSync(path.join(r.b, DIR, `${n}.md`), 'utf8'), '\nmilestone: 8\n');
  } finally {
    r.repo.cleanup();
  }
});

test.run();
