/**
 * The runner's git is spawned directly with an argument list (issue 15, "less work per item"): arguments reach git
 * as they are, whatever characters they hold; large outputs arrive whole and decoded once; a git that cannot start
 * is a failed call, not a crash; the runner's environment and flags are in force; a fetch that meets another
 * milestone's worktree half-added waits for that add and succeeds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StepFailedError } from '../tasks/lib/errors.ts';
import { git as runnerGit, gitRaw } from '../tasks/lib/git.ts';
import { gitTextHead, streamGitLines } from '../tasks/lib/git-lines.ts';
import { withRepoLock } from '../tasks/lib/repo-lock.ts';
import { emptyRepo, git, tempDir } from './support/fixture.ts';
import { linesOf, waitFor } from './support/wait.ts';

const repoDir = () => emptyRepo('wm-git-spawn-');

test('arguments reach git as they are: no shell expands, splits or runs anything in them', async () => {
  const dir = await repoDir();
  try {
    const file = 'a file with $HOME; `x` and * in it.txt';
    writeFileSync(path.join(dir, file), 'content\n');
    await runnerGit(dir, ['add', '--', file]);
    const message = `subject $(touch pwned) ; touch pwned2 && echo "quoted" 'single' \\ * ?\n\nbody line`;
    await runnerGit(dir, ['commit', '-q', '-m', message]);
    assert.is(await git(dir, 'log', '-1', '--format=%B'), message);
    assert.is(await git(dir, 'ls-files', '-z'), `${file}\0`);
    assert.not.ok(existsSync(path.join(dir, 'pwned')) || existsSync(path.join(dir, 'pwned2')), 'a shell ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a 12 MiB file and a log of 3000 commits arrive whole, multi-byte characters intact across chunks', async () => {
  const dir = await repoDir();
  try {
    // 3-byte and 4-byte characters, so pipe chunks (64 KiB) split characters somewhere.
    const line = 'ünïcødé € 𝄞 text that is long enough to fill a line of the big file ........\n';
    const content = line.repeat(Math.ceil((12 * 1024 * 1024) / Buffer.byteLength(line)));
    writeFileSync(path.join(dir, 'big.txt'), content);
    await git(dir, 'add', 'big.txt');
    await git(dir, 'commit', '-q', '-m', 'big');
    const bigCommit = await git(dir, 'rev-parse', 'HEAD');
    // 3000 empty commits on top, through fast-import (one process).
    const stream = Array.from({ length: 3000 }, (_, i) => {
      const msg = Buffer.from(`empty ${i} — é\n`);
      const from = i === 0 ? `from ${bigCommit}\n` : '';
      const committer = `committer T <t@example.com> ${1700000000 + i} +0000`;
      return `commit refs/heads/main\n${committer}\ndata ${msg.length}\n${msg}${from}\n`;
    }).join('');
    execFileSync('git', ['fast-import', '--quiet', '--force'], { cwd: dir, input: stream });
    const shown = await gitRaw(dir, ['show', 'HEAD:big.txt']);
    assert.is(shown.exitCode, 0);
    assert.ok(shown.stdout === content, `got ${shown.stdout.length} characters, want ${content.length}`);
    const log = await runnerGit(dir, ['log', '--format=%s']);
    assert.is(log.split('\n').length, 3001);
    assert.is(log.split('\n')[0], 'empty 2999 — é');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output over 256 MiB is not read whole: the call is stopped and fails with a message, the runner lives', async () => {
  const dir = await repoDir();
  try {
    // A 300 MB blob made from a stream: git compresses it to almost nothing.
    const sha = execFileSync(
      'sh',
      ['-c', "yes 'a line of a very large blob' | head -c 314572800 | git hash-object -w --stdin"],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    ).trim();
    const out = await gitRaw(dir, ['cat-file', 'blob', sha]);
    assert.is(out.exitCode, null);
    assert.is(out.stdout, '');
    assert.match(out.stderr, 'printed more than 256 MiB, the most the runner reads whole');
    const error = await runnerGit(dir, ['cat-file', 'blob', sha]).catch((e: unknown) => e);
    assert.instance(error, StepFailedError);
    assert.match((error as Error).message, `git cat-file blob ${sha} failed in ${dir}: printed more than 256 MiB`);
    // The same blob as a stream: every line seen whole (they are short), nothing held.
    let lines = 0;
    let chars = 0;
    let cut = 0;
    await streamGitLines(dir, ['cat-file', 'blob', sha], (line, length) => {
      lines += 1;
      chars += length;
      if (line.length !== length) cut += 1;
    });
    const lineBytes = 'a line of a very large blob\n'.length;
    assert.is(lines, Math.ceil(314572800 / lineBytes), 'the last line has no newline and is seen too');
    assert.is(chars + lines - 1, 314572800);
    assert.is(cut, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gitTextHead: the first characters, a marker that counts the rest; lines longer than the cut are cut', async () => {
  const dir = await repoDir();
  try {
    // Multi-byte characters across pipe chunks, and one line of 1 MB.
    const text = `${'€ three bytes'.repeat(8000)}\nsecond\n${'x'.repeat(1_000_000)}\nlast`;
    writeFileSync(path.join(dir, 'f.txt'), text);
    const sha = (await git(dir, 'hash-object', '-w', 'f.txt')).trim();
    assert.is(await gitTextHead(dir, ['cat-file', 'blob', sha], text.length), text);
    const cut = await gitTextHead(dir, ['cat-file', 'blob', sha], 120_000, 'see the blob');
    assert.is(cut, `${text.slice(0, 120_000)}… (${text.length - 120_000} more characters; see the blob)`);
    const short = await gitTextHead(dir, ['cat-file', 'blob', sha], 10);
    assert.is(short, `€ three by… (${text.length - 10} more characters)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a git that cannot start is a failed call: gitRaw returns it, git throws a StepFailedError about it', async () => {
  const missing = path.join(tempDir('wm-git-spawn-'), 'no-such-dir');
  const out = await gitRaw(missing, ['status']);
  assert.is(out.exitCode, null);
  assert.match(out.stderr, `git could not start in ${missing}`);
  const error = await runnerGit(missing, ['status']).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(error, StepFailedError);
  assert.match((error as Error).message, `git status failed in ${missing}: git could not start`);
  rmSync(path.dirname(missing), { recursive: true, force: true });
});

test('the runner environment and flags are in force; stdin a git does not read is no error', async () => {
  const dir = await repoDir();
  try {
    assert.is(await runnerGit(dir, ['var', 'GIT_EDITOR']), 'true');
    assert.is(await runnerGit(dir, ['config', 'core.hooksPath']), '/dev/null');
    const env = await runnerGit(dir, ['-c', 'alias.env=!env', 'env'], { env: { WM_EXTRA: 'yes' } });
    const vars = new Set(env.split('\n'));
    for (const v of ['GIT_OPTIONAL_LOCKS=0', 'GIT_TERMINAL_PROMPT=0', 'WM_EXTRA=yes']) assert.ok(vars.has(v), v);
    // git exits without reading a large input: the broken pipe is not an error of the call.
    const out = await gitRaw(dir, ['rev-parse', '--git-dir'], 'x'.repeat(4 * 1024 * 1024));
    assert.is(out.exitCode, 0);
    assert.is(out.stdout.trim(), '.git');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fetch meeting a worktree being added (HEAD still the all-zero placeholder) waits for the add, then succeeds', async () => {
  const dir = await repoDir();
  const origin = `${dir}-origin.git`;
  const log = path.join(`${dir}-calls.log`);
  try {
    await git(dir, 'commit', '-q', '--allow-empty', '-m', 'first');
    execFileSync('git', ['init', '-q', '--bare', origin]);
    await git(dir, 'remote', 'add', 'origin', origin);
    await git(dir, 'push', '-q', 'origin', 'main');
    await git(dir, 'worktree', 'add', '-q', `${dir}-wt`, '-b', 'other');
    const head = await git(dir, 'rev-parse', 'HEAD');
    const placeholder = path.join(dir, '.git', 'worktrees', path.basename(`${dir}-wt`), 'HEAD');
    const commonDir = path.join(dir, '.git');
    process.env.WM_GIT_CALLER_LOG = log;
    // This test is the other milestone's runner, in the middle of its `worktree add` (which holds this lock).
    const held = await withRepoLock(commonDir, 'worktrees', { command: 'git worktree add' }, async () => {
      writeFileSync(placeholder, `${'0'.repeat(40)}\n`);
      const fetch = gitRaw(dir, ['fetch', '--quiet', 'origin']);
      // The fetch failed on the placeholder and looked up the common dir: now it waits for this lock.
      const waiting = waitFor('the fetch to wait for the worktree add', () =>
        linesOf(log).some((l) => l.includes('"rev-parse"')),
      );
      const first = await Promise.race([fetch, waiting.then(() => null)]);
      assert.is(first, null, `the fetch ended without waiting for the add: ${JSON.stringify(first)}`);
      writeFileSync(placeholder, `${head}\n`);
      // Wrapped: returning the promise itself would hold the lock until the fetch that waits for it ends.
      return { fetch };
    });
    const fetched = await held.fetch;
    assert.is(fetched.exitCode, 0, fetched.stderr);
    assert.equal(
      linesOf(log).map((l) => (JSON.parse(l) as { cmd: string[] }).cmd[0]),
      ['fetch', 'rev-parse', 'fetch'],
    );
  } finally {
    delete process.env.WM_GIT_CALLER_LOG;
    for (const d of [dir, origin, `${dir}-wt`, log]) rmSync(d, { recursive: true, force: true });
  }
});

test.run();
