/**
 * Interruption controls (docs/steps.md, "Failures and re-runs"): Ctrl-C (SIGINT) or SIGTERM stops scheduling,
 * leaves live agents running and exits 130, and `run` again re-attaches; a second Ctrl-C stops the agents too (items
 * back to pending, not failed); `run --stop` stops the agents of an interrupted run. Real runners and `command`
 * agents that count their starts in a file outside the repository.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runMilestone } from './support/cli.ts';
import { COMMITTING_AGENT, readEvents, tempDir } from './support/fixture.ts';
import { shWaitForFile } from './support/wait.ts';
import { run, show, waitFor } from './support/wave-rig.ts';
import { assertLanded, groupMembers, makeRig, startRunner, stateOf, type Rig } from './support/converge-rig.ts';
import { isAlive } from './support/processes.ts';

/**
 * The file a waiting agent waits for (outside the repository): the test creates it when it is done looking at the
 * live agent, so the agent is alive for as long as needed however busy the machine, and never longer.
 */
interface Release {
  readonly file: string;
  /** Let the agents finish. */
  release(): void;
  /** Release and remove the folder. */
  cleanup(): void;
}

function makeRelease(): Release {
  const dir = tempDir('wm-release-');
  const file = path.join(dir, 'release');
  return {
    file,
    release: () => writeFileSync(file, ''),
    cleanup: () => {
      writeFileSync(file, '');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An agent that counts its start, waits until the test creates `release.file`, then commits and reports COMPLETE.
 * The poll is bounded (120 s) only so that a failed test leaves no agent behind for ever.
 */
const waiter = (release: Release) =>
  `echo "$WM_ISSUE" >> "$COUNTER"; ${shWaitForFile(`'${release.file}'`)}; ${COMMITTING_AGENT}`;

/** Start `run` and wait until `n` agents were spawned; returns the runner and their pids by issue. */
async function runUntilSpawned(rig: Rig, n: number) {
  const runner = startRunner(rig);
  const spawned = await waitFor(`${n} agent(s) spawned`, () => {
    const ev = readEvents(rig.repo).filter((e) => e.type === 'agent-spawned');
    return ev.length >= n ? ev : undefined;
  });
  return { runner, pids: new Map<number, number>(spawned.map((e) => [e.issue as number, e.pid as number])) };
}

const stop = (rig: Rig) => runMilestone(rig.repo, ['--stop'], { env: rig.env, timeoutMs: 30_000 });

test('SIGINT once while an agent works: exit 130, the agent lives on; run again re-attaches (one start) and lands', async () => {
  const release = makeRelease();
  const rig = await makeRig({ waves: [[{ issue: 1, title: 'One' }]], command: waiter(release) });
  try {
    const { runner, pids } = await runUntilSpawned(rig, 1);
    const pid = pids.get(1) as number;
    runner.kill('SIGINT');
    const r = await runner.done;
    assert.is(r.code, 130, show(r));
    assert.match(r.stderr, 'SIGINT: stopping; live agents keep running for the next run');
    assert.ok(isAlive(pid), 'the agent was stopped by one Ctrl-C');
    const item = stateOf(rig.repo).items['1'];
    assert.is(item.status, 'in-progress');
    assert.is(item.process.pid, pid);
    assert.not.ok(existsSync(path.join(rig.repo.stateDir, 'run.lock')), 'run.lock left behind');
    assert.equal(
      readEvents(rig.repo)
        .filter((e) => e.type === 'run-end')
        .map((e) => e.exitCode),
      [130],
    );

    release.release();
    const eventsBefore = readEvents(rig.repo).length;
    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again, [1]);
    assert.equal(rig.starts(), ['1'], 'the agent was started again');
    assert.not.ok(
      readEvents(rig.repo)
        .slice(eventsBefore)
        .some((e) => e.type === 'agent-spawned'),
    );
    assert.is(stateOf(rig.repo).items['1'].attempts, 1);
  } finally {
    rig.cleanup();
    release.cleanup();
  }
});

test('SIGINT twice (the second once the first was heard): exit 130, every agent process group gone, items pending (not failed); run again starts each once more and lands', async () => {
  const release = makeRelease();
  const rig = await makeRig({ command: waiter(release) });
  try {
    const { runner, pids } = await runUntilSpawned(rig, 2);
    runner.kill('SIGINT');
    // The second signal once the runner has handled the first (two signals sent at once could merge into one).
    await waitFor('the first SIGINT to be heard', () => runner.stderr().includes('SIGINT: stopping'));
    runner.kill('SIGINT');
    const r = await runner.done;
    assert.is(r.code, 130, show(r));
    assert.match(r.stderr, /stopped the agents of #[12], #[12]/);
    for (const [issue, pid] of pids) {
      assert.equal(groupMembers(pid), [], `#${issue}: its process group is still alive`);
      const item = stateOf(rig.repo).items[String(issue)];
      assert.equal(
        [item.status, item.process, item.failure, item.attempts],
        ['pending', null, null, 1],
        JSON.stringify(item),
      );
    }
    assert.not.ok(existsSync(path.join(rig.repo.stateDir, 'run.lock')), 'run.lock left behind');
    assert.equal(rig.starts(), ['1', '2']);

    release.release();
    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again);
    assert.not.match(again.stderr, 'took over a stale run.lock');
    assert.equal(rig.starts(), ['1', '1', '2', '2']);
    for (const issue of ['1', '2']) assert.is(stateOf(rig.repo).items[issue].attempts, 2);
  } finally {
    rig.cleanup();
    release.cleanup();
  }
});

test('SIGTERM acts as one Ctrl-C (exit 130, agent alive); run --stop then stops it (item pending); --stop again: "has no live agent"; run lands', async () => {
  const release = makeRelease();
  const rig = await makeRig({ waves: [[{ issue: 1, title: 'One' }]], command: waiter(release) });
  try {
    const { runner, pids } = await runUntilSpawned(rig, 1);
    const pid = pids.get(1) as number;
    runner.kill('SIGTERM');
    const r = await runner.done;
    assert.is(r.code, 130, show(r));
    assert.match(r.stderr, 'SIGTERM: stopping; live agents keep running for the next run');
    assert.ok(isAlive(pid), 'SIGTERM stopped the agent');
    assert.is(stateOf(rig.repo).items['1'].status, 'in-progress');

    const stopped = await stop(rig);
    assert.is(stopped.code, 0, show(stopped));
    assert.match(stopped.stderr, 'stopped the agents of #1; run again to start them afresh');
    assert.equal(groupMembers(pid), [], 'the agent still runs after --stop');
    const item = stateOf(rig.repo).items['1'];
    assert.equal([item.status, item.process, item.failure], ['pending', null, null], JSON.stringify(item));

    const idle = await stop(rig);
    assert.is(idle.code, 0, show(idle));
    assert.match(idle.stderr, 'milestone 7 has no live agent');
    assert.equal(stateOf(rig.repo).items['1'], item, '--stop with nothing alive changed the item');

    release.release();
    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again, [1]);
    assert.equal(rig.starts(), ['1', '1']);
  } finally {
    rig.cleanup();
    release.cleanup();
  }
});

test('run --stop after the interrupted run\'s agent ended by itself: "has no live agent", its result is kept and judged by the next run', async () => {
  const release = makeRelease();
  const rig = await makeRig({ waves: [[{ issue: 1, title: 'One' }]], command: waiter(release) });
  try {
    const { runner } = await runUntilSpawned(rig, 1);
    runner.kill('SIGINT');
    assert.is((await runner.done).code, 130);
    // The runner is gone: only now may the agent end by itself.
    release.release();
    await waitFor(
      'the agent to end',
      () => existsSync(path.join(rig.repo.stateDir, 'items', '1', 'item-1.exit')),
      15_000,
    );

    const stopped = await stop(rig);
    assert.is(stopped.code, 0, show(stopped));
    assert.match(stopped.stderr, 'milestone 7 has no live agent');
    assert.is(stateOf(rig.repo).items['1'].status, 'in-progress', 'the finished attempt was thrown away');

    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again, [1]);
    assert.equal(rig.starts(), ['1'], 'the finished work was done again');
    assert.is(stateOf(rig.repo).items['1'].attempts, 1);
  } finally {
    rig.cleanup();
    release.cleanup();
  }
});

test.run();
