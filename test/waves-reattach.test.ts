/**
 * Resume after a crash (docs/steps.md, "Failures and re-runs"): the runner is SIGKILLed while its agents run; `run`
 * again waits for the same agents (pid + start time), starts none twice, and judges one that finished while no runner
 * was there.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, makeRepo, readEvents, readStateFile, runCli, startCli, tempDir } from './support/fixture.ts';
import {
  killProcessesWith,
  killRecordedAgents,
  linesOf,
  processesWith,
  rigItems,
  rigPlan,
  run,
  show,
  step,
  waitFor,
  type RigItem,
} from './support/wave-rig.ts';
import { collect, watch } from './support/cli.ts';
import { isAlive } from './support/processes.ts';

/**
 * Shell: wait (bounded, 60 s) until the file named by the variable exists: an agent held until the test releases it.
 */
const hold = (variable: string) =>
  `i=0; while [ ! -e "$${variable}" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done;`;

/** A release file, created by the test when it is done looking. */
const releaseFile = (dir: string, name: string) => path.join(dir, name);

/** Resolve once the runner started after `eventsBefore` events wrote its run-start. */
const waitForRunStart = (repo: Parameters<typeof readEvents>[0], eventsBefore: number) =>
  waitFor('the next run to start', () =>
    readEvents(repo)
      .slice(eventsBefore)
      .find((e) => e.type === 'run-start'),
  );

test('SIGKILL the runner while agents run: run again re-attaches, each agent started exactly once, items complete', async () => {
  const waves: RigItem[][] = [
    [
      {
        issue: 1,
        title: 'Slow',
        extra: { command: `echo "$WM_ISSUE" >> "$COUNTER"; ${hold('GO_SLOW')} ${COMMITTING_AGENT}` },
      },
      {
        issue: 2,
        title: 'Quick',
        extra: { command: `echo "$WM_ISSUE" >> "$COUNTER"; ${hold('GO_QUICK')} ${COMMITTING_AGENT}` },
      },
    ],
  ];
  const repo = await makeRepo({ plan: rigPlan(waves, { command: 'exit 9' }), items: rigItems(waves) });
  const tools = tempDir('wm-counter-');
  const counter = path.join(tools, 'starts');
  const env = { COUNTER: counter, GO_SLOW: releaseFile(tools, 'go-slow'), GO_QUICK: releaseFile(tools, 'go-quick') };
  try {
    const runner = startCli('run', ['7', '--repo', repo.dir, '--no-push'], { env });
    const closed = collect(runner).then((r) => r.signal);
    const spawned = await waitFor('both agents spawned', () => {
      const ev = readEvents(repo).filter((e) => e.type === 'agent-spawned');
      return ev.length === 2 ? ev : undefined;
    });
    // Once the runner recorded both processes, kill it without a chance to clean up.
    await waitFor('both processes recorded', () => {
      const items = readStateFile(repo).items;
      return items['1']?.process?.pid && items['2']?.process?.pid;
    });
    runner.kill('SIGKILL');
    assert.is(await closed, 'SIGKILL');
    const before = readStateFile(repo).items;
    assert.is(before['1'].status, 'in-progress');
    assert.is(before['1'].process.pid, spawned.find((e) => e.issue === 1).pid);
    // The quick one finishes while no runner is around.
    writeFileSync(env.GO_QUICK, '');
    await waitFor(
      'the quick agent to finish',
      () => linesOf(path.join(repo.stateDir, 'items', '2', 'item-1.exit')).length > 0,
      10_000,
    );
    // The slow one is still alive when the next run starts.
    assert.ok(isAlive(before['1'].process.pid as number), 'the slow agent ended before the next run');

    const eventsBefore = readEvents(repo).length;
    const running = run(repo, [], env);
    // The slow one is released only once the next runner is there to wait for it.
    await waitForRunStart(repo, eventsBefore);
    writeFileSync(env.GO_SLOW, '');
    const again = await running;
    assert.is(again.code, 0, show(again));
    assert.match(again.stderr, `took over a stale run.lock of pid ${runner.pid}`);
    assert.equal(linesOf(counter).sort(), ['1', '2'], 'an agent was started twice');
    assert.not.ok(
      readEvents(repo)
        .slice(eventsBefore)
        .some((e) => e.type === 'agent-spawned'),
      'the second run spawned an agent',
    );
    const items = readStateFile(repo).items;
    for (const issue of ['1', '2']) {
      assert.is(items[issue].status, 'complete', JSON.stringify(items[issue]));
      assert.is(items[issue].attempts, 1);
      assert.is(items[issue].result.commits.length, 1);
    }
  } finally {
    writeFileSync(env.GO_SLOW, '');
    writeFileSync(env.GO_QUICK, '');
    killRecordedAgents(path.join(repo.stateDir, 'state.json'));
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('a crash between starting an agent and recording its pid: wait finds it by its pid file, and its timeout still holds', async () => {
  const marker = String(600000 + Math.floor(Math.random() * 99999));
  const waves: RigItem[][] = [[{ issue: 1, title: 'Stuck' }]];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: `sleep ${marker} & sleep ${marker}`, extra: { timeout: '2s', retries: 0 } }),
    items: rigItems(waves),
  });
  const stateFile = path.join(repo.stateDir, 'state.json');
  try {
    for (const name of ['validate', 'prepare', 'branch', 'fetch']) assert.is((await step(repo, name)).code, 0, name);
    assert.is((await step(repo, 'worktrees', ['--wave', '1'])).code, 0);
    assert.is((await step(repo, 'spawn', ['--wave', '1'])).code, 0);
    const pid = readStateFile(repo).items['1'].process.pid as number;
    // What a runner killed right after the spawn leaves: the attempt recorded, its process not.
    const state = readStateFile(repo);
    state.items['1'].process = null;
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    const started = Date.now();
    const r = await runCli('step', ['wait', '7', '--repo', repo.dir, '--wave', '1'], { timeoutMs: 30_000 });
    assert.is(r.code, 3, show(r));
    assert.ok(Date.now() - started < 20_000, `wait took ${Date.now() - started} ms`);
    const item = readStateFile(repo).items['1'];
    assert.is(item.status, 'failed');
    assert.is(item.attempts, 1);
    assert.is(item.failure, 'timed out after 2s; its process group was killed');
    assert.equal(processesWith(`sleep ${marker}`), []);
    assert.not.ok(isAlive(pid), 'the timed-out agent still runs');
  } finally {
    killProcessesWith(`sleep ${marker}`);
    repo.cleanup();
  }
});

test('Ctrl-C (SIGINT) once: exit 130, the agent keeps running; run again waits for it, no second start', async () => {
  const waves: RigItem[][] = [[{ issue: 1, title: 'Slow' }]];
  const agent = `echo "$WM_ISSUE" >> "$COUNTER"; ${hold('GO')} ${COMMITTING_AGENT}`;
  const repo = await makeRepo({ plan: rigPlan(waves, { command: agent }), items: rigItems(waves) });
  const tools = tempDir('wm-counter-');
  const counter = path.join(tools, 'starts');
  const env = { COUNTER: counter, GO: releaseFile(tools, 'go') };
  try {
    const runner = watch(startCli('run', ['7', '--repo', repo.dir, '--no-push'], { env }));
    const closed = runner.done.then((r) => r.code);
    const spawned = await waitFor('the agent spawned', () => readEvents(repo).find((e) => e.type === 'agent-spawned'));
    runner.child.kill('SIGINT');
    assert.is(await closed, 130, runner.stderr());
    assert.match(runner.stderr(), 'SIGINT: stopping; live agents keep running for the next run');
    assert.ok(isAlive(spawned.pid as number), 'one SIGINT stopped the agent');
    assert.is(readStateFile(repo).items['1'].status, 'in-progress');
    const eventsBefore = readEvents(repo).length;
    const running = run(repo, [], env);
    await waitForRunStart(repo, eventsBefore);
    writeFileSync(env.GO, '');
    const again = await running;
    assert.is(again.code, 0, show(again));
    assert.equal(linesOf(counter), ['1']);
    const item = readStateFile(repo).items['1'];
    assert.is(item.status, 'complete');
    assert.is(item.attempts, 1);
  } finally {
    writeFileSync(env.GO, '');
    killRecordedAgents(path.join(repo.stateDir, 'state.json'));
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
