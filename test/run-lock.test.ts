/**
 * `run.lock` (docs/state.md) through the real `run.mts`: a second runner on a running milestone exits 2 naming the
 * owner's pid; a stale lock (dead pid, or a live pid with another start time) is taken over with a notice; the
 * lock is gone after a run, whether it succeeded or not.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { processStartTime } from '../tasks/lib/process-info.ts';
import { acquireRunLock } from '../tasks/lib/run-lock.ts';
import {
  COMMITTING_AGENT,
  makeRepo,
  readEvents,
  readStateFile,
  runCli,
  startCli,
  tempDir,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { collect } from './support/cli.ts';
import { planYaml } from './support/plan.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';

/** A pid that cannot be running: above the default pid_max (2^22). */
const DEAD_PID = 4_194_305;

function planWith(command: string, retries = 1): string {
  return planYaml({
    title: 'Lock test',
    waves: [{ items: [{ issue: 1, title: 'One' }] }],
    defaults: { agent: 'command', retries, command },
  });
}

const ITEMS = [{ issue: 1, title: 'One' }];

/**
 * An agent that stays alive until the test creates `release` (a file outside the repository), then commits: alive
 * for as long as the test looks, however busy the machine. The poll is bounded (120 s) only so that a failed test
 * leaves no agent behind for ever.
 */
const waitingAgent = (release: string) => `${shWaitForFile(`'${release}'`)}; ${COMMITTING_AGENT}`;

function assertNoStack(result: CliResult): void {
  assert.not.match(result.stderr, /^\s+at /m, `stack trace on stderr:\n${result.stderr}`);
}

test('a second runner on the same milestone exits 2 naming the owner; the first one finishes and releases the lock', async () => {
  const releaseDir = tempDir('wm-release-');
  const release = path.join(releaseDir, 'release');
  const repo: TestRepo = await makeRepo({ plan: planWith(waitingAgent(release)), items: ITEMS });
  const first = startCli('run', ['7', '--repo', repo.dir]);
  const firstDone = collect(first);
  try {
    await waitFor('the agent of the first run', () => readEvents(repo).some((e) => e.type === 'agent-spawned'));
    const lock = path.join(repo.stateDir, 'run.lock');
    assert.ok(existsSync(lock), 'no run.lock while the first run is running');

    const second = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^milestone 7 is already being run by pid ${first.pid} \\(run 7, since \\d{4}-[^)]+\\); wait for it or stop it first\\n$`,
      ),
    );
    assertNoStack(second);
    // The refused runner wrote nothing: one run-start, the first runner's.
    assert.equal(
      readEvents(repo)
        .filter((e) => e.type === 'run-start')
        .map((e) => e.pid),
      [first.pid],
    );

    // A step on the same milestone is refused the same way.
    const step = await runCli('step', ['merge', '7', '--repo', repo.dir]);
    assert.is(step.code, 2, step.stderr);
    assert.match(step.stderr, new RegExp(`already being run by pid ${first.pid} `));

    // Done looking: the agent may finish.
    writeFileSync(release, '');
    const done = await firstDone;
    assert.is(done.code, 0, done.stderr);
    assert.not.ok(existsSync(lock), 'run.lock left after the run');
    assert.is(readStateFile(repo).items['1'].status, 'complete');
  } finally {
    writeFileSync(release, '');
    first.kill('SIGKILL');
    await firstDone;
    repo.cleanup();
    rmSync(releaseDir, { recursive: true, force: true });
  }
});

test('a stale run.lock (dead pid; live pid with another start time) is taken over with a notice, and the run proceeds', async () => {
  const repo: TestRepo = await makeRepo({ plan: planWith(COMMITTING_AGENT), items: ITEMS });
  try {
    const lock = path.join(repo.stateDir, 'run.lock');
    mkdirSync(repo.stateDir, { recursive: true });
    writeFileSync(
      lock,
      `${JSON.stringify({ pid: DEAD_PID, startTime: '12345', startedAt: '2026-01-01T00:00:00.000Z', command: 'run 7' })}\n`,
    );
    const run = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`^took over a stale run\\.lock of pid ${DEAD_PID} \\(started 2026-01-01T00:00:00\\.000Z\\)$`, 'm'),
    );
    assert.ok(readEvents(repo).some((e) => e.type === 'notice' && e.message.includes(`pid ${DEAD_PID}`)));
    assert.is(readStateFile(repo).items['1'].status, 'complete');
    assert.not.ok(existsSync(lock));

    // A live process (this test) under a start time that is not its own: the pid was reused, the lock is stale.
    assert.ok(processStartTime(process.pid));
    writeFileSync(
      lock,
      `${JSON.stringify({ pid: process.pid, startTime: 'not-its-start', startedAt: '2026-01-02T00:00:00.000Z', command: 'run 7' })}\n`,
    );
    const again = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`took over a stale run\\.lock of pid ${process.pid} `));
    assert.not.ok(existsSync(lock));

    // A lock that is not even JSON is stale too.
    writeFileSync(lock, 'garbage');
    const third = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(third.code, 0, third.stderr);
    assert.not.ok(existsSync(lock));
  } finally {
    repo.cleanup();
  }
});

test('the lock is released when the run fails (an item failed: exit 3)', async () => {
  const repo: TestRepo = await makeRepo({ plan: planWith('echo nothing to do; exit 1', 0), items: ITEMS });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(run.code, 3, run.stderr);
    assertNoStack(run);
    assert.not.ok(existsSync(path.join(repo.stateDir, 'run.lock')));
    assert.ok(readEvents(repo).some((e) => e.type === 'run-end' && e.exitCode === 3));
  } finally {
    repo.cleanup();
  }
});

test('check(): a removed lock, or one replaced by a pipe or a dead owner, is taken again; a live other owner is lost', () => {
  const dir = tempDir('wm-lock-');
  try {
    const file = path.join(dir, 'run.lock');
    const lock = acquireRunLock(dir, '7', 'run 7');
    assert.equal(lock.check(), { kind: 'held' });
    rmSync(file);
    assert.equal(lock.check(), { kind: 'retaken' });
    assert.is(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid, 'it names this process again');
    rmSync(file);
    execFileSync('mkfifo', [file]);
    assert.equal(lock.check(), { kind: 'retaken' });
    assert.ok(lstatSync(file).isFile());
    rmSync(dir, { recursive: true });
    assert.equal(lock.check(), { kind: 'retaken' }, 'its folder removed with it');
    assert.ok(lstatSync(file).isFile());
    const owner = (pid: number, startTime: string) =>
      writeFileSync(file, JSON.stringify({ pid, startTime, startedAt: '2026-01-01T00:00:00Z', command: 'run 7' }));
    owner(DEAD_PID, '1');
    assert.equal(lock.check(), { kind: 'retaken' });
    // Another live process: this test's parent, as another runner would be.
    const other = { pid: process.ppid, startTime: processStartTime(process.ppid) ?? '' };
    owner(other.pid, other.startTime);
    const lost = lock.check();
    assert.is(lost.kind, 'lost');
    assert.is(lost.kind === 'lost' ? lost.owner?.pid : null, other.pid);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent removes run.lock: taken again with a notice, and the run lands; one that hands it to a live process stops the merge', async () => {
  const lockOf = '"$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone/milestone-7/run.lock"';
  const removed = await makeRepo({ plan: planWith(`rm -f ${lockOf} && ${COMMITTING_AGENT}`), items: ITEMS });
  try {
    const r = await runCli('run', ['7', '--repo', removed.dir, '--yes', '--no-push']);
    assert.is(r.code, 0, r.stderr);
    const notices = readEvents(removed).filter((e) => e.type === 'notice' && /run\.lock was removed/.test(e.message));
    assert.is(notices.length, 1, r.stderr);
    assert.not.ok(existsSync(path.join(removed.stateDir, 'run.lock')), 'released at the end');
  } finally {
    removed.cleanup();
  }
  // The lock handed to another live process (this test's parent stands for a second runner).
  const other = JSON.stringify({
    pid: process.ppid,
    startTime: processStartTime(process.ppid) ?? '',
    startedAt: '2026-01-01T00:00:00Z',
    command: 'run 7',
  });
  const taken = await makeRepo({
    plan: planWith(`printf '%s' '${other}' > ${lockOf}.new && mv ${lockOf}.new ${lockOf} && ${COMMITTING_AGENT}`),
    items: ITEMS,
  });
  try {
    const r = await runCli('run', ['7', '--repo', taken.dir, '--yes', '--no-push']);
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, `run.lock now names pid ${process.ppid} (run 7): milestone 7's lock was removed`);
    assert.is(readStateFile(taken).items['1'].merge, null, 'nothing merged');
  } finally {
    taken.cleanup();
  }
});

test('an agent writes state.lock and worktrees.lock naming the runner itself: taken over, the run lands', async () => {
  // The runner's pid and start time, as run.lock has them: a live process, but one that did not take these files.
  const common = '"$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone"';
  const forge = `cp ${common}/milestone-7/run.lock ${common}/milestone-7/state.lock && cp ${common}/milestone-7/run.lock ${common}/worktrees.lock`;
  // Two waves: wave 2's worktree is added after wave 1's agent forged the files.
  const two = { issue: 2, title: 'Two' };
  const items = [...ITEMS, two];
  const plan = planYaml({
    title: 'Lock test',
    waves: [{ items: ITEMS }, { items: [two] }],
    defaults: { agent: 'command', retries: 0, command: `${forge} && ${COMMITTING_AGENT}` },
  });
  const repo = await makeRepo({ plan, items });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push']);
    assert.is(r.code, 0, r.stderr);
    assert.ok(readStateFile(repo).land, 'landed');
  } finally {
    repo.cleanup();
  }
});

test.run();
