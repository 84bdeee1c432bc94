/**
 * A named pipe where git reads a file (tasks/lib/pipe-wait.ts): git's open waits for a writer that never comes, so the
 * runner's git call is stopped within seconds with a message naming the pipe, instead of sitting out its 10-minute
 * limit on every try. An agent that leaves one in its worktree gets its attempt judged with the status said to be
 * unknown (not "a detached HEAD"), and the run stops at the worktree's removal until the pipe is gone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StepFailedError } from '../tasks/lib/errors.ts';
import { git as runnerGit, gitRaw, revParse } from '../tasks/lib/git.ts';
import { dirtyPaths } from '../tasks/lib/git-status.ts';
import { COMMITTING_AGENT, emptyRepo, git, makeRepo, runCli } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';
import { readStateFile } from './support/state-files.ts';

const mkfifo = (file: string) => execFileSync('mkfifo', [file]);

test('a git call that waits to open a named pipe fails naming it; a pipe git does not read changes nothing', async () => {
  const dir = await emptyRepo('wm-pipe-');
  try {
    await git(dir, 'commit', '-q', '--allow-empty', '-m', 'base');
    mkdirSync(path.join(dir, 'sub'));
    mkfifo(path.join(dir, 'sub', 'data'));
    writeFileSync(path.join(dir, 'sub', 'file'), 'x\n');
    // A pipe git does not read (it skips special files of the worktree) is no problem.
    assert.equal([...(await dirtyPaths(dir))], ['sub/file']);
    assert.is((await gitRaw(dir, ['status', '--porcelain'])).exitCode, 0);

    mkfifo(path.join(dir, 'sub', '.gitignore'));
    const streamed = await dirtyPaths(dir).catch((e: unknown) => e);
    assert.instance(streamed, StepFailedError);
    assert.match(
      (streamed as Error).message,
      `git status --porcelain in ${dir} waits to open the named pipe ${path.join(dir, 'sub', '.gitignore')}, ` +
        'which nothing writes',
    );
    assert.match((streamed as Error).message, 'Remove the pipe, then run again');
    const whole = await gitRaw(dir, ['status', '--porcelain']).catch((e: unknown) => e);
    assert.instance(whole, StepFailedError);
    assert.match((whole as Error).message, `waits to open the named pipe ${path.join(dir, 'sub', '.gitignore')}`);
    rmSync(path.join(dir, 'sub', '.gitignore'));

    // In the repository's own files: every ref lookup reads packed-refs.
    mkfifo(path.join(dir, '.git', 'packed-refs'));
    const refs = await revParse(dir, 'refs/heads/main').catch((e: unknown) => e);
    assert.instance(refs, StepFailedError);
    assert.match((refs as Error).message, `waits to open the named pipe ${path.join(dir, '.git', 'packed-refs')}`);
    rmSync(path.join(dir, '.git', 'packed-refs'));
    assert.match(await runnerGit(dir, ['rev-parse', 'HEAD']), /^[0-9a-f]{40}/, 'git works again once it is gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent that leaves a named pipe in its worktree: judged with its status unknown; the run stops at the removal, then lands', async () => {
  // Item 2's agent commits its file and reports, then leaves a pipe named .gitignore in its worktree.
  const agent = `${COMMITTING_AGENT} && { [ "$WM_ISSUE" != 2 ] || mkfifo .gitignore; }`;
  const items = [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
  ];
  const plan = planYaml({ title: 'Pipes', waves: [{ items }], defaults: { agent: 'command', command: agent } });
  const repo = await makeRepo({ plan, items });
  try {
    const first = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push'], { timeoutMs: 200_000 });
    const pipe = path.join(repo.dir, 'worktrees', '7-2-two', '.gitignore');
    assert.is(first.code, 1, first.stderr);
    assert.match(first.stderr, `git worktree remove in ${repo.dir} waits to open the named pipe ${pipe}`);
    const items = readStateFile(repo).items;
    assert.is(items['2'].status, 'complete');
    const flags: string[] = items['2'].result.flags;
    assert.ok(
      flags.some((f) => f.startsWith("could not read the worktree's status, so its uncommitted files are unknown")),
      flags.join('\n'),
    );
    assert.ok(!flags.some((f) => f.includes('detached HEAD')), 'its branch is read from the HEAD file');
    assert.ok(!(items['1'].result.flags as string[]).some((f) => f.includes('named pipe')), 'item 1 is unaffected');
    assert.ok(
      (await git(repo.dir, 'ls-tree', '--name-only', 'main')).includes('item-2.txt'),
      'the judged commit landed',
    );

    rmSync(pipe);
    const second = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push'], { timeoutMs: 120_000 });
    assert.is(second.code, 0, second.stderr);
    assert.not.ok(existsSync(path.join(repo.dir, 'worktrees', '7-2-two')), 'the worktree is removed');
  } finally {
    repo.cleanup();
  }
});

test.run();
