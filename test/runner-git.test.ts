/**
 * The runner's own git (issue 9, "main is never broken"): hooks and an fsmonitor program that agents plant in the
 * repository never run under the runner, and the items that planted them are flagged; a git call that outlives its
 * time limit is stopped and becomes a StepFailedError that names it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StepFailedError } from '../tasks/lib/errors.ts';
import { git as runnerGit, gitRaw, MAX_GIT_STDERR_BYTES } from '../tasks/lib/git.ts';
import { git, makeRepo, readStateFile, tempDir, writeAgent } from './support/fixture.ts';
import { processesWith, rigItems, rigPlan, run, show, type RigItem } from './support/wave-rig.ts';
import { linesOf as lines } from './support/wait.ts';

/** A hook or fsmonitor program that appends its name to `marker`, only when it runs outside an agent. */
function writeTrap(file: string, marker: string, exitCode = 0): void {
  writeFileSync(
    file,
    `#!/bin/sh\n[ -n "$WORK_MILESTONE_CHILD" ] || echo "$(basename "$0")" >> '${marker}'\nexit ${exitCode}\n`,
  );
  chmodSync(file, 0o755);
}

test('hooks and core.fsmonitor planted by agents never run under the runner; the milestone lands and the items are flagged', async () => {
  const tools = tempDir('wm-agent-');
  const marker = path.join(tools, 'ran-outside-agents.log');
  writeTrap(path.join(tools, 'hook'), marker);
  // An fsmonitor program that fails: git then looks at every file itself (and would still have run it).
  writeTrap(path.join(tools, 'fsmonitor'), marker, 1);
  const agent = writeAgent(
    tools,
    `hooks="$(git rev-parse --path-format=absolute --git-common-dir)/hooks"
case "$WM_ROLE:$WM_ISSUE" in
item:1) for h in pre-commit post-commit reference-transaction; do cp "$tools/hook" "$hooks/$h"; done
  echo one > one.txt; commit one; report COMPLETE;;
item:2) cp "$tools/hook" "$hooks/post-merge"; git config core.fsmonitor "$tools/fsmonitor"
  echo two > two.txt; commit two; report COMPLETE;;
esac`,
  );
  // Item 1 plants hooks before any check has a baseline; item 2, in the next wave, after item 1's check took one.
  const waves: RigItem[][] = [[{ issue: 1, title: 'Plant hooks' }], [{ issue: 2, title: 'Plant fsmonitor' }]];
  const repo = await makeRepo({ plan: rigPlan(waves, { command: agent.command }), items: rigItems(waves) });
  try {
    const r = await run(repo);
    assert.is(r.code, 0, show(r));
    assert.equal(lines(marker), [], 'a planted hook or fsmonitor program ran under the runner');
    // Landed: both items' work and the milestone merge are on main.
    assert.is(await git(repo.dir, 'show', 'main:one.txt'), 'one');
    assert.is(await git(repo.dir, 'show', 'main:two.txt'), 'two');
    assert.is(await git(repo.dir, 'log', '-1', '--format=%s', 'main'), 'Merge milestone 7: Wave rig');
    const items = readStateFile(repo).items;
    assert.is(items['1'].status, 'complete');
    assert.is(items['2'].status, 'complete');
    const hookFlags = (flags: string[]) => flags.filter((f) => /hooks|config/.test(f));
    assert.equal(hookFlags(items['1'].result.flags), [
      'added .git/hooks/post-commit (the runner never runs hooks)',
      'added .git/hooks/pre-commit (the runner never runs hooks)',
      'added .git/hooks/reference-transaction (the runner never runs hooks)',
    ]);
    // Each change is reported once: item 2 is not blamed for item 1's hooks.
    assert.equal(hookFlags(items['2'].result.flags), [
      'added .git/hooks/post-merge (the runner never runs hooks)',
      'changed the repository config: core.fsmonitor',
    ]);
    // The traps were live: the user's own git, outside any agent, runs them.
    const userEnv: NodeJS.ProcessEnv = { ...process.env };
    delete userEnv.WORK_MILESTONE_CHILD;
    execFileSync('git', ['commit', '-q', '--allow-empty', '-m', 'by hand'], {
      cwd: repo.dir,
      env: userEnv,
      stdio: 'ignore',
    });
    assert.ok(lines(marker).includes('post-commit') && lines(marker).includes('fsmonitor'), lines(marker).join(' '));
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('runner git: no hooks, no fsmonitor, whatever the repository config says; the old stdin argument still works', async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "x"}\nwaves: []\n', items: [] });
  const marker = path.join(repo.root, 'ran.log');
  try {
    for (const h of ['pre-commit', 'post-commit', 'reference-transaction'])
      writeTrap(path.join(repo.dir, '.git', 'hooks', h), marker);
    writeTrap(path.join(repo.root, 'fsmonitor'), marker, 1);
    await git(repo.dir, 'config', 'core.fsmonitor', path.join(repo.root, 'fsmonitor'));
    await runnerGit(repo.dir, ['commit', '-q', '--allow-empty', '-m', 'runner commit'], { timeoutMs: 30_000 });
    await runnerGit(repo.dir, ['status', '--porcelain']);
    assert.equal(lines(marker), []);
    assert.is(await git(repo.dir, 'log', '-1', '--format=%s'), 'runner commit');
    const hashed = await gitRaw(repo.dir, ['hash-object', '--stdin'], 'hello\n');
    assert.is(hashed.stdout.trim(), 'ce013625030ba8dba906f756967f9e9ca394464a');
  } finally {
    repo.cleanup();
  }
});

test('runner git: commits have their own parents, whatever .git/info/grafts says, and git prints no hint about it', async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "x"}\nwaves: []\n', items: [] });
  try {
    for (const name of ['b', 'c']) await git(repo.dir, 'commit', '-q', '--allow-empty', '-m', name);
    const [c, b, a] = (await git(repo.dir, 'log', '--format=%H')).split('\n');
    // c's parent becomes a: b disappears from the history git shows, and a is taken as the merge base of b and c.
    writeFileSync(path.join(repo.dir, '.git', 'info', 'grafts'), `${c} ${a}\n`);
    assert.is(await git(repo.dir, 'log', '--format=%H', '-1', `${c}^`), a as string, 'the graft works for plain git');
    const parent = await gitRaw(repo.dir, ['log', '--format=%H', '-1', `${c}^`]);
    assert.equal([parent.stdout.trim(), parent.stderr], [b, ''], "the runner's git reads the commit's own parent");
    assert.is(await runnerGit(repo.dir, ['merge-base', b as string, c as string]), b as string);
  } finally {
    repo.cleanup();
  }
});

test('a git call that outlives its time limit is stopped and becomes a StepFailedError naming the command and the limit', async () => {
  const dir = tempDir('wm-git-timeout-');
  try {
    await git(dir, 'init', '-q');
    // Reading a fifo nobody writes to blocks until a signal comes.
    const fifo = path.join(dir, 'never-written');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const error = await runnerGit(dir, ['hash-object', fifo], { timeoutMs: 300 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(error, StepFailedError);
    assert.is(
      (error as Error).message,
      `git hash-object ${fifo} in ${dir} did not finish within its time limit of 300ms and was stopped`,
    );
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(processesWith(fifo), [], 'the git process was stopped');
    // gitRaw, which returns failures instead of throwing, throws for a timeout too.
    const raw = await gitRaw(dir, ['hash-object', fifo], { timeoutMs: 200 }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.match((raw as Error).message, /did not finish within its time limit of 200ms/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runner git: a git that prints without end on stderr keeps its last MiB, saying how much was left out', async () => {
  const dir = tempDir('wm-git-stderr-');
  try {
    await git(dir, 'init', '-q');
    // An alias runs a shell: 8 MiB of noise on stderr, then the line that says what failed.
    const noisy = '!yes "remote: noise" | head -c 8388608 >&2; echo "fatal: the real reason" >&2; exit 1';
    const out = await gitRaw(dir, ['-c', `alias.noisy=${noisy}`, 'noisy']);
    assert.is(out.exitCode, 1);
    assert.ok(out.stderr.length <= MAX_GIT_STDERR_BYTES + 256 * 1024, `kept ${out.stderr.length} characters`);
    assert.ok(out.stderr.trimEnd().endsWith('fatal: the real reason'), out.stderr.slice(-200));
    assert.match(out.stderr, /^\(\d+ bytes of stderr left out\)\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
