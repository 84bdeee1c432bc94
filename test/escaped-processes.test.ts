/**
 * Processes an agent left running outside its process group (`setsid`): collecting or cancelling the agent stops them
 * (SIGTERM, then SIGKILL for one that ignores it), found by the pid-file path in their environment; nothing else with
 * a look-alike environment is touched; a run says which it stopped. Agents wait on files, never on time.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { processesWithEnvironment, processStartTime } from '../tasks/lib/process-info.ts';
import { readEvents, readStateFile, runCli, tempDir } from './support/fixture.ts';
import { hostileMilestone } from './support/hostile.ts';
import { isAlive, killQuietly } from './support/processes.ts';
import { dispatchScript, hold, local, settled } from './support/local-agents.ts';
import { ITEM_AGENT, makeAgentRig } from './support/agent-rig.ts';
import { runInProcess, show } from './support/cli.ts';

/**
 * Shell: start `body` in a session and group of its own (it writes its pid to `pidFile` first), detached from the
 * agent's output, and wait until it has.
 */
const escape = (pidFile: string, body: string) =>
  `setsid sh -c 'echo $$ > "$1.tmp" && mv "$1.tmp" "$1"; ${body}' sh '${pidFile}' </dev/null >/dev/null 2>&1 & ` +
  hold(pidFile);

const pidIn = (file: string) => Number.parseInt(readFileSync(file, 'utf8'), 10);
const groupOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};

test('collect stops what an agent left outside its group: one that ends on SIGTERM, one that ignores it', async () => {
  const dir = tempDir('wm-escaped-');
  const polite = path.join(dir, 'polite.pid');
  const stubborn = path.join(dir, 'stubborn.pid');
  try {
    const handle = await dispatchScript(
      dir,
      'daemon',
      `${escape(polite, 'exec sleep 300')} ${escape(stubborn, 'trap "" TERM; while :; do sleep 1; done')} echo done`,
    );
    await settled(handle);
    const wrapper = pidIn(path.join(dir, 'runs', 'daemon.pid'));
    const left = [pidIn(polite), pidIn(stubborn)];
    for (const pid of left) {
      assert.ok(isAlive(pid), `${pid} runs after its agent ended`);
      assert.is.not(groupOf(pid), wrapper, 'outside the agent’s process group');
    }
    const result = await local.collect(handle);
    for (const pid of left) assert.not.ok(isAlive(pid), `${pid} was stopped`);
    assert.is(result.exitCode, 0);
    const stopped = (result.left ?? []).map((p) => p.pid);
    for (const pid of left) assert.ok(stopped.includes(pid), `${pid} is listed as stopped: ${JSON.stringify(result)}`);
    assert.ok(
      (result.left ?? []).some((p) => p.command === 'sleep'),
      `command names are listed: ${JSON.stringify(result.left)}`,
    );
    assert.equal((await local.collect(handle)).left, undefined, 'nothing left to stop the second time');
  } finally {
    for (const file of [polite, stubborn]) if (existsSync(file)) killQuietly(-pidIn(file));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancel stops them too, with the agent still running', async () => {
  const dir = tempDir('wm-escaped-');
  const escaped = path.join(dir, 'escaped.pid');
  const never = path.join(dir, 'never');
  try {
    const handle = await dispatchScript(
      dir,
      'running',
      `${escape(escaped, 'exec sleep 300')} ${hold(never)} echo done`,
    );
    while (!existsSync(escaped)) await sleep(20);
    const pid = pidIn(escaped);
    assert.ok(isAlive(pid));
    await local.cancel(handle);
    assert.not.ok(isAlive(pid), 'stopped by cancel');
    assert.equal(await local.poll(handle), { state: 'cancelled' });
  } finally {
    writeFileSync(never, '');
    if (existsSync(escaped)) killQuietly(-pidIn(escaped));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only processes started with that exact variable: not another pid file, nor the text inside a value', async () => {
  const dir = tempDir('wm-escaped-');
  const mine = path.join(dir, 'runs', 'x.pid');
  // Each one process that runs until the test kills it (no child of its own that would share its environment).
  const start = (env: Record<string, string>) =>
    spawn('sleep', ['300'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
  const children = [
    start({ WM_PID: mine }),
    start({ WM_PID: `${mine}.other` }),
    start({ OTHER: `WM_PID=${mine}` }),
    start({ XWM_PID: mine }),
  ];
  try {
    await Promise.all(children.map((c) => new Promise((resolve) => c.once('spawn', resolve))));
    const found = processesWithEnvironment('WM_PID', mine).map((p) => p.pid);
    assert.equal(found, [children[0]?.pid], `found ${JSON.stringify(found)}`);
    assert.ok(processStartTime(children[1]?.pid as number), 'the others run on');
  } finally {
    for (const c of children) killQuietly(c.pid as number);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run: a daemon an agent left is stopped when it is judged, the run says so, the milestone lands', async () => {
  const tools = tempDir('wm-escaped-');
  const escaped = path.join(tools, 'escaped.pid');
  const repo = await hostileMilestone({
    title: 'Escaped',
    hostile: `${escape(escaped, 'exec sleep 300')} :`,
    defaults: { retries: 0 },
  });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir, '--no-push'], { timeoutMs: 120_000 });
    assert.is(run.code, 0, run.stderr);
    const pid = pidIn(escaped);
    assert.not.ok(isAlive(pid), 'the daemon was stopped');
    const notices = readEvents(repo)
      .filter((e) => e.type === 'notice')
      .map((e) => String(e.message));
    assert.ok(
      notices.some(
        (m) => m.startsWith('#1: 1 process it left running outside its process group') && m.includes(`${pid} sleep`),
      ),
      notices.join('\n'),
    );
    const item = readStateFile(repo).items['1'];
    assert.ok(
      item.result.flags.some((f: string) => f.includes(`${pid} sleep`)),
      `flagged on the item: ${item.result.flags}`,
    );
    assert.is(item.status, 'complete');
    assert.match(readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8'), `${pid} sleep`);
  } finally {
    if (existsSync(escaped)) killQuietly(-pidIn(escaped));
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('a gate run: a daemon one gate starts serves the next gate, and is stopped when the run ends', async () => {
  const tools = tempDir('wm-escaped-');
  const daemon = path.join(tools, 'daemon.pid');
  const r = await makeAgentRig({
    title: 'Gate daemon',
    items: [{ issue: 1, title: 'Alpha' }],
    body: ITEM_AGENT,
    // `pg_ctl start` does this: the server leaves the gate's group and session.
    gates: {
      'post-merge': [
        { name: 'start', run: `${escape(daemon, 'exec sleep 300')} :` },
        { name: 'use', run: `kill -0 "$(cat '${daemon}')"` },
      ],
    },
  });
  try {
    const run = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(run.code, 0, show(run));
    const pid = pidIn(daemon);
    assert.not.ok(isAlive(pid), 'the daemon was stopped');
    assert.ok(
      readEvents(r.repo).some(
        (e) =>
          e.type === 'notice' &&
          e.message.startsWith('gates: 1 process the gates left running outside their process group (setsid) was ') &&
          e.message.includes(`${pid} sleep`),
      ),
      'said so',
    );
  } finally {
    r.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
