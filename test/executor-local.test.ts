/**
 * The local executor (docs/executors.md) through real processes: dispatch records the handle before anything starts,
 * then running → succeeded / failed, cancel → cancelled, a group killed without its exit file → lost, a recorded
 * handle that never started → lost. Agents wait on files the test creates, never on time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AgentHandle, AgentStatus } from '../tasks/executors/types.ts';
import { dispatchScript, hold, local, settled } from './support/local-agents.ts';
import { killGroup } from '../tasks/executors/local/process.ts';
import { isGroupAlive } from '../tasks/lib/process-info.ts';
import { COMMITTING_AGENT, makeRepo, readStateFile, runCli, tempDir } from './support/fixture.ts';
import { isAlive, killQuietly } from './support/processes.ts';
import { waitFor } from './support/wait.ts';

/** A status without what the agent printed (checked where the output is known). */
function withoutSize(status: AgentStatus): Omit<AgentStatus, 'outputBytes'> {
  if (status.state !== 'succeeded' && status.state !== 'failed') return status;
  const { outputBytes: _, ...rest } = status;
  return rest;
}

test('dispatch → running → succeeded; collect gives the exit code and the output as the adapter parses it', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const go = path.join(dir, 'go');
    const handle = await dispatchScript(dir, 'ok', `${hold(go)} echo 'STATUS: COMPLETE'`);
    assert.equal(
      { kind: handle.kind, id: handle.id, name: handle.name },
      { kind: 'local', id: '7-1-conflict-ok', name: 'ok' },
    );
    const running = await local.poll(handle);
    assert.is(running.state, 'running');
    assert.ok(running.state === 'running' && running.pid !== null && isGroupAlive(running.pid));
    writeFileSync(go, '');
    // What it printed is counted once it has ended too ('STATUS: COMPLETE\n').
    assert.equal(await settled(handle), { state: 'succeeded', outputBytes: 17 });
    const result = await local.collect(handle);
    assert.is(result.exitCode, 0);
    assert.is(result.outcome.ok, true);
    assert.is(result.outcome.text, 'STATUS: COMPLETE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an agent that exits 3 → failed with its exit code; collect says why', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const handle = await dispatchScript(dir, 'bad', `echo 'cannot decide' >&2; exit 3`);
    assert.equal(await settled(handle), { state: 'failed', exitCode: 3, outputBytes: 14 });
    const result = await local.collect(handle);
    assert.is(result.exitCode, 3);
    assert.is(result.outcome.ok, false);
    assert.match(result.outcome.failure ?? '', /exited 3: cannot decide/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cancel → its whole group is gone, cancelled (also to a later poll), no result', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const never = path.join(dir, 'never');
    // A child of its own in the group: cancel must take it too.
    const handle = await dispatchScript(dir, 'stopped', `(${hold(never)}) & ${hold(never)} echo done`);
    const running = await local.poll(handle);
    assert.is(running.state, 'running');
    const pid = running.state === 'running' ? (running.pid as number) : 0;
    await local.cancel(handle);
    assert.not.ok(isGroupAlive(pid), 'the group is gone');
    assert.equal(await local.poll(handle), { state: 'cancelled' });
    const result = await local.collect(handle);
    assert.is(result.exitCode, null);
    assert.is(result.outcome.ok, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a group killed without its exit file → lost; a recorded handle that never started → lost', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const never = path.join(dir, 'never');
    const handle = await dispatchScript(dir, 'killed', `${hold(never)} echo done`);
    const running = await local.poll(handle);
    assert.is(running.state, 'running');
    const pid = running.state === 'running' ? (running.pid as number) : 0;
    process.kill(-pid, 'SIGKILL');
    const lost = await settled(handle);
    assert.is(lost.state, 'lost');
    assert.match(lost.state === 'lost' ? lost.reason : '', /gone without an exit code/);
    assert.match((await local.collect(handle)).outcome.failure ?? '', /died without a result/);
    // What a runner killed between recording the handle and starting the process leaves.
    const unstarted: AgentHandle = { ...handle, id: '7-1-conflict-2', name: 'unstarted' };
    assert.equal(await local.poll(unstarted), { state: 'lost', reason: 'it never started' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('collect kills what the agent left in its group while its wrapper is still between its exit code and exiting', async () => {
  const dir = tempDir('wm-exec-');
  const release = path.join(dir, 'release');
  const stray = path.join(dir, 'stray.pid');
  try {
    // The agent writes the exit code as its wrapper would (the wrapper's pid, from its pid file), leaves a stray in the
    // group, and holds the wrapper alive: the moment a busy machine can stretch between the wrapper's `mv` and its
    // exit.
    // The stray's pid file is written last: once the test sees it, the exit code is whole on disk.
    const handle = await dispatchScript(
      dir,
      'late',
      `sleep 300 & s=$!; printf '0 %s\\n' "$(cat "$WM_PID")" > "$WM_EXIT"; echo $s > '${stray}'; ${hold(release)} :`,
    );
    const deadline = Date.now() + 30_000;
    while (!existsSync(stray) && Date.now() < deadline) await sleep(20);
    assert.is((await local.poll(handle)).state, 'succeeded', 'the exit code is what poll reads');
    const running = Number.parseInt(readFileSync(path.join(dir, 'runs', 'late.pid'), 'utf8'), 10);
    assert.ok(isGroupAlive(running), 'wrapper and stray still run before collect');
    await local.collect(handle);
    assert.not.ok(isGroupAlive(running), "collect left the agent's group alive");
  } finally {
    writeFileSync(release, '');
    rmSync(dir, { recursive: true, force: true });
  }
});

test("killGroup returns when the group holds a process it may not signal (another user's, as after sudo)", async () => {
  // A group of this (root) user's, killed from a process that runs as nobody: kill says EPERM for as long as it runs.
  const owned = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  const dir = tempDir('wm-kill-');
  try {
    await new Promise((resolve) => owned.once('spawn', resolve));
    // nobody reads the script here and keeps tsx's cache here (its TMPDIR below): like /tmp, anyone may write.
    chmodSync(dir, 0o1777);
    const script = path.join(dir, 'kill.mts');
    const killer = new URL('../tasks/executors/local/process.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { killGroup } from '${killer}';\nawait killGroup(Number(process.argv[2]), 100);\nconsole.log('returned');\n`,
    );
    const nobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    const out = execFileSync('setpriv', [...nobody, process.execPath, '--import', 'tsx', script, String(owned.pid)], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, TMPDIR: dir },
      encoding: 'utf8',
      // Only a guard against a test that would never end: a killGroup that waits for ever.
      timeout: 120_000,
    });
    assert.match(out, 'returned');
    assert.ok(isGroupAlive(owned.pid as number), 'the group it could not signal runs on');
  } finally {
    killQuietly(-(owned.pid as number));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a handle dispatched again under the same name does not read the earlier run’s files', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const first = await dispatchScript(dir, 'same', 'exit 4');
    assert.equal(withoutSize(await settled(first)), { state: 'failed', exitCode: 4 });
    const go = path.join(dir, 'go');
    const second = await dispatchScript(dir, 'same', `${hold(go)} echo again`);
    assert.is((await local.poll(second)).state, 'running', 'not the exit code of the first');
    writeFileSync(go, '');
    assert.equal(withoutSize(await settled(second)), { state: 'succeeded' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an item agent: its handle is in state before it runs; polled through it; judged from its result', async () => {
  const tools = tempDir('wm-exec-');
  const go = path.join(tools, 'go');
  const command = `${hold(go)} ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: [
      'milestone: {number: 7, title: "Handles"}',
      'waves:',
      '  - wave: 1',
      '    items:',
      '      - {issue: 1, title: "Alpha"}',
      `defaults: {agent: command, retries: 0, timeout: 60s, command: ${JSON.stringify(command)}}`,
      '',
    ].join('\n'),
    items: [{ issue: 1, title: 'Alpha' }],
  });
  const step = (name: string, extra: string[] = []) =>
    runCli('step', [name, '7', '--repo', repo.dir, ...extra], { timeoutMs: 60_000 });
  try {
    for (const name of ['validate', 'prepare', 'branch', 'fetch']) assert.is((await step(name)).code, 0, name);
    assert.is((await step('worktrees', ['--wave', '1'])).code, 0);
    assert.is((await step('spawn', ['--wave', '1'])).code, 0);
    const item = readStateFile(repo).items['1'];
    const handle = item.handle as AgentHandle;
    assert.equal(
      { kind: handle.kind, id: handle.id, agent: handle.agent, name: handle.name },
      { kind: 'local', id: '7-1-item-1', agent: 'command', name: 'item-1' },
    );
    const running = await local.poll(handle);
    assert.is(running.state, 'running');
    assert.is(running.state === 'running' ? running.pid : null, item.process.pid, 'the pid state recorded');
    writeFileSync(go, '');
    assert.equal(withoutSize(await settled(handle)), { state: 'succeeded' });
    const wait = await step('wait', ['--wave', '1']);
    assert.is(wait.code, 0, wait.stderr);
    const judged = readStateFile(repo).items['1'];
    assert.is(judged.status, 'complete');
    assert.is(judged.handle, null, 'cleared once judged');
    assert.is(judged.result.commits.length, 1);
  } finally {
    writeFileSync(go, '');
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('ended: resolves when an agent this process started exits (also when asked after), its exit file written; null for any other', async () => {
  const dir = tempDir('wm-exec-');
  try {
    const go = path.join(dir, 'go');
    const handle = await dispatchScript(dir, 'wake', `${hold(go)} exit 0`);
    const ended = local.ended?.(handle);
    assert.ok(ended, 'a promise for an agent started here');
    let over = false;
    void ended.then(() => (over = true));
    assert.is((await local.poll(handle)).state, 'running');
    assert.not.ok(over, 'not before it exits');
    writeFileSync(go, '');
    // The child is unreferenced (a runner may exit while agents run): something else keeps this process waiting, as
    // the driver's poll timer does.
    const alive = setInterval(() => undefined, 1000);
    await ended.finally(() => clearInterval(alive));
    // Woken by the exit itself: the look that follows finds it over, with no wait between.
    assert.is((await local.poll(handle)).state, 'succeeded');
    // Kept once it exited: a wait that begins only now (an agent that ended before its runner looked) costs nothing.
    const later = local.ended?.(handle);
    assert.ok(later, 'still known after its exit');
    await later;
    assert.is(local.ended?.({ ...handle, name: 'never-started' }) ?? null, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a group whose processes all finished but were never reaped (zombies of an orphan) is gone: nothing waits for it', async () => {
  const dir = tempDir('wm-zombie-');
  const pidFile = path.join(dir, 'pid');
  // The group leader runs in its own group and exits; its parent then becomes `sleep`, which never reaps it: a zombie
  // as an agent's wrapper is after a crashed runner, under a PID 1 that reaps late or never.
  const parent = spawn('sh', ['-c', `setsid sh -c 'echo $$ > "$0"; exit 0' '${pidFile}' & exec sleep 60`], {
    stdio: 'ignore',
    detached: true,
  });
  try {
    const pid = await waitFor('the group leader', () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')));
    await waitFor('the leader to be a zombie', () => /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    assert.not.ok(isAlive(pid), 'a zombie counts as alive');
    assert.not.ok(isGroupAlive(pid), 'a group of zombies counts as alive');
    await killGroup(pid, 60_000);
    assert.ok(existsSync(`/proc/${pid}`), 'the zombie was reaped: the test proved nothing');
  } finally {
    killQuietly(parent.pid ?? 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
