/**
 * Conflict and fix agents re-attached after a runner crash (docs/executors.md): the runner is SIGKILLed while the
 * agent works; `run` again finds its handle in state, waits for the same process, uses its result, and the milestone
 * lands. Each agent appends to a start-count file and waits on a release file the test creates after the kill.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isGroupAlive } from '../tasks/lib/process-info.ts';
import {
  git,
  makeRepo,
  readEvents,
  readStateFile,
  runCli,
  showFile,
  startCli,
  tempDir,
  writeAgent,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { killQuietly } from './support/processes.ts';
import { makeAgentRig } from './support/agent-rig.ts';
import { runInProcess } from './support/cli.ts';

/** Lines of a file (none when it does not exist). */
const linesOf = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

/** Poll `probe` until it gives a value, or throw after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const show = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** Shell: count a start of `role` in `$tools/starts`, then wait (bounded, 60 s) for `$tools/release`. */
const startAndHold = (role: string) =>
  `echo ${role} >> "$tools/starts"; i=0; while [ ! -e "$tools/release" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done;`;

/** Kill what the recorded sessions still run (cleanup after a failed test). */
function killSessions(repo: TestRepo): void {
  const file = path.join(repo.stateDir, 'state.json');
  if (!existsSync(file)) return;
  for (const s of readStateFile(repo).sessions ?? []) {
    const pidFile = s.handle ? path.join(s.handle.dir, `${s.handle.name}.pid`) : '';
    const pid = Number.parseInt(existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '', 10);
    if (pid > 1) killQuietly(-pid);
  }
}

/** After a test, passed or not: release any agent still holding, kill what the sessions run, remove the folders. */
function endScenario(repo: TestRepo, tools: string): void {
  writeFileSync(path.join(tools, 'release'), '');
  killSessions(repo);
  repo.cleanup();
  rmSync(tools, { recursive: true, force: true });
}

/**
 * Run until the `role` agent has started, SIGKILL the runner, check its handle is in state, run again, release the
 * agent once the new runner waits for it; returns the second run.
 */
async function crashWhile(repo: TestRepo, tools: string, role: 'conflict' | 'fix'): Promise<CliResult> {
  const runner = startCli('run', ['7', '--repo', repo.dir]);
  const closed = new Promise<NodeJS.Signals | null>((resolve) => runner.on('close', (_c, signal) => resolve(signal)));
  await waitFor(`the ${role} agent to start`, () => linesOf(path.join(tools, 'starts')).includes(role));
  runner.kill('SIGKILL');
  assert.is(await closed, 'SIGKILL');
  const sessions = readStateFile(repo).sessions;
  assert.is(sessions.length, 1, JSON.stringify(sessions));
  const [session] = sessions;
  assert.is(session.status, 'dispatched');
  assert.is(session.role, role);
  assert.is(session.id, role === 'conflict' ? '7-2-conflict-1' : '7-0-fix-1');
  assert.is(session.handle.kind, 'local');
  assert.is(session.handle.id, session.id);
  const eventsBefore = readEvents(repo).length;
  const again = runCli('run', ['7', '--repo', repo.dir], { timeoutMs: 90_000 });
  // Released only once the next runner waits for the same process.
  await waitFor('the next run to wait for the agent', () =>
    readEvents(repo)
      .slice(eventsBefore)
      .find((e) => e.type === 'notice' && e.message.includes(`; re-attached to ${session.id}: their results are used`)),
  );
  writeFileSync(path.join(tools, 'release'), '');
  const result = await again;
  assert.not.ok(
    readEvents(repo)
      .slice(eventsBefore)
      .some((e) => e.type === 'agent-spawned' && e.role === role),
    `the second run spawned a ${role} agent`,
  );
  return result;
}

const CALC = 'function total(a, b) {\n  return a + b;\n}\n';
const RESOLVED = 'function total(a, b) {\n  return (a + b) * 2 + 1;\n}\n';

test('SIGKILL while a conflict agent works: run again re-attaches, it started once, its resolution lands', async () => {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(
    tools,
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf 'function total(a, b) {\\n  return a + b + 1;\\n}\\n' > calc.js; commit plus-one; report COMPLETE "adds one";;
item:2) printf 'function total(a, b) {\\n  return (a + b) * 2;\\n}\\n' > calc.js; commit double; report COMPLETE "doubles";;
conflict:2) ${startAndHold('conflict')} printf '${RESOLVED.replace(/\n/g, '\\n')}' > calc.js; git add calc.js; report COMPLETE "both";;
*) exit 9;;
esac`,
  );
  const repo = await makeRepo({
    plan: [
      'milestone: {number: 7, title: "Reattach"}',
      'waves:',
      '  - wave: 1',
      '    parallel: false',
      '    items:',
      '      - {issue: 1, title: "Alpha"}',
      '      - {issue: 2, title: "Beta"}',
      `defaults: {agent: command, retries: 0, timeout: 90s, command: ${JSON.stringify(agent.command)}}`,
      '',
    ].join('\n'),
    items: [
      { issue: 1, title: 'Alpha' },
      { issue: 2, title: 'Beta' },
    ],
    files: { 'calc.js': CALC },
    origin: true,
  });
  try {
    const again = await crashWhile(repo, tools, 'conflict');
    assert.is(again.code, 0, show(again));
    assert.equal(linesOf(path.join(tools, 'starts')), ['conflict'], 'the conflict agent started once');
    const state = readStateFile(repo);
    assert.is(state.items['2'].merge.kind, 'medium', state.items['2'].merge.note);
    assert.is(await showFile(repo.origin as string, 'main', 'calc.js'), RESOLVED);
    assert.equal(
      state.sessions.map((s: { id: string; status: string; ok: boolean }) => [s.id, s.status, s.ok]),
      [['7-2-conflict-1', 'ended', true]],
    );
  } finally {
    endScenario(repo, tools);
  }
});

/** One item and a post-merge gate only the fix agent makes green (it leaves its fix uncommitted). */
async function fixScenario(
  fix = 'echo fixed > fixed.txt; report COMPLETE "fixed"',
): Promise<{ repo: TestRepo; tools: string }> {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(
    tools,
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE "alpha";;
fix:0) ${startAndHold('fix')} ${fix};;
*) exit 9;;
esac`,
  );
  const repo = await makeRepo({
    plan: [
      'milestone: {number: 7, title: "Reattach"}',
      'waves:',
      '  - wave: 1',
      '    items:',
      '      - {issue: 1, title: "Alpha"}',
      'quality-gates:',
      '  post-merge: [{name: fixed, run: "test -e fixed.txt"}]',
      `defaults: {agent: command, retries: 0, timeout: 90s, max-fix-attempts: 1, command: ${JSON.stringify(agent.command)}}`,
      '',
    ].join('\n'),
    items: [{ issue: 1, title: 'Alpha' }],
    origin: true,
  });
  return { repo, tools };
}

/** Start `run` and SIGKILL it once the fix agent has started; the agent's pid (from its pid file). */
async function killRunnerDuringFix(repo: TestRepo, tools: string): Promise<number> {
  const runner = startCli('run', ['7', '--repo', repo.dir]);
  const closed = new Promise<NodeJS.Signals | null>((resolve) => runner.on('close', (_c, signal) => resolve(signal)));
  await waitFor('the fix agent to start', () => linesOf(path.join(tools, 'starts')).includes('fix'));
  runner.kill('SIGKILL');
  assert.is(await closed, 'SIGKILL');
  const { handle } = readStateFile(repo).sessions[0];
  return Number.parseInt(readFileSync(path.join(handle.dir, `${handle.name}.pid`), 'utf8'), 10);
}

test('SIGKILL while a fix agent works: run again re-attaches, it started once, its fix makes the gates green', async () => {
  const { repo, tools } = await fixScenario();
  try {
    const again = await crashWhile(repo, tools, 'fix');
    assert.is(again.code, 0, show(again));
    assert.equal(linesOf(path.join(tools, 'starts')), ['fix'], 'the fix agent started once');
    const state = readStateFile(repo);
    assert.ok(state.land, 'landed');
    assert.is(await showFile(repo.origin as string, 'main', 'fixed.txt'), 'fixed\n');
    assert.equal(
      state.sessions.map((s: { id: string; status: string; ok: boolean }) => [s.id, s.status, s.ok]),
      [['7-0-fix-1', 'ended', true]],
    );
  } finally {
    endScenario(repo, tools);
  }
});

test('SIGKILL while a fix agent works that then resets the branch to main: the next run stops, saying how to restore', async () => {
  const { repo, tools } = await fixScenario('git reset -q --hard main; report COMPLETE "reverted"');
  try {
    const again = await crashWhile(repo, tools, 'fix');
    // The re-attached agent ends before any step; the refs guard sees the branch moved, names the tip to restore.
    assert.is(again.code, 3, show(again));
    const restore = /to restore it: git -C (\S+) reset --hard ([0-9a-f]{40})/.exec(again.stderr);
    assert.ok(restore, show(again));
    assert.not.ok(readStateFile(repo).land, 'landed');
    const merge = readStateFile(repo).items['1'].merge?.sha as string;
    assert.ok(
      await git(repo.dir, 'merge-base', '--is-ancestor', merge, restore?.[2] as string).then(
        () => true,
        () => false,
      ),
      "the tip to restore holds #1's merge",
    );
  } finally {
    endScenario(repo, tools);
  }
});

test('runner and fix agent both killed: the lost agent is run again, once, and the milestone lands', async () => {
  const { repo, tools } = await fixScenario();
  try {
    const pid = await killRunnerDuringFix(repo, tools);
    killQuietly(-pid);
    writeFileSync(path.join(tools, 'release'), '');
    const again = await runCli('run', ['7', '--repo', repo.dir], { timeoutMs: 90_000 });
    assert.is(again.code, 0, show(again));
    assert.match(
      again.stderr,
      /the fix agent 7-0-fix-1 is not re-attached \(its process is gone without an exit code\)/,
    );
    assert.equal(linesOf(path.join(tools, 'starts')), ['fix', 'fix'], 'started again once');
    const state = readStateFile(repo);
    assert.ok(state.land, 'landed');
    assert.equal(
      state.sessions.map((s: { id: string; status: string; ok: boolean }) => [s.id, s.status, s.ok]),
      [
        ['7-0-fix-1', 'ended', false],
        ['7-0-fix-2', 'ended', true],
      ],
    );
  } finally {
    endScenario(repo, tools);
  }
});

test('run --stop after a crash stops a recorded fix agent; the next run starts a new one', async () => {
  const { repo, tools } = await fixScenario();
  try {
    const pid = await killRunnerDuringFix(repo, tools);
    const stop = await runCli('run', ['7', '--repo', repo.dir, '--stop'], { timeoutMs: 60_000 });
    assert.is(stop.code, 0, show(stop));
    assert.match(stop.stderr, /stopped 1 conflict\/fix agent\(s\) \(fix-[0-9a-f]{12}-1-1\)/);
    assert.not.ok(isGroupAlive(pid), 'its process group is still running');
    writeFileSync(path.join(tools, 'release'), '');
    const again = await runCli('run', ['7', '--repo', repo.dir], { timeoutMs: 90_000 });
    assert.is(again.code, 0, show(again));
    assert.match(again.stderr, /the fix agent 7-0-fix-1 is not re-attached \(stopped\)/);
    assert.equal(linesOf(path.join(tools, 'starts')), ['fix', 'fix']);
    assert.ok(readStateFile(repo).land, 'landed');
  } finally {
    endScenario(repo, tools);
  }
});

test('SIGINT once while a fix agent works leaves it running; a second SIGINT cancels it', async () => {
  const { repo, tools } = await fixScenario();
  try {
    const runner = startCli('run', ['7', '--repo', repo.dir]);
    let stderr = '';
    runner.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => runner.on('close', (code) => resolve(code)));
    await waitFor('the fix agent to start', () => linesOf(path.join(tools, 'starts')).includes('fix'));
    const { handle } = readStateFile(repo).sessions[0];
    const pid = Number.parseInt(readFileSync(path.join(handle.dir, `${handle.name}.pid`), 'utf8'), 10);
    runner.kill('SIGINT');
    await waitFor('the first SIGINT to be heard', () => stderr.includes('SIGINT: stopping'));
    assert.ok(isGroupAlive(pid), 'the first SIGINT stopped the fix agent');
    runner.kill('SIGINT');
    assert.is(await closed, 130, stderr);
    assert.match(stderr, /stopped 1 conflict\/fix agent\(s\) \(fix-[0-9a-f]{12}-1-1\)/);
    assert.not.ok(isGroupAlive(pid), 'its process group is still running');
    assert.ok(existsSync(path.join(handle.dir, `${handle.name}.cancelled`)), 'marked cancelled');
  } finally {
    endScenario(repo, tools);
  }
});

test("a fix agent that sets its pid file's time to the future is still stopped at its time limit", async () => {
  // Its environment names the pid file; its time once told the runner when the agent started.
  const r = await makeAgentRig({
    title: 'Forged start',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > a.txt; commit alpha; report COMPLETE;;
fix:*) touch -d 2100-01-01 "$WM_PID"; exec sleep 600;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -q BUG a.txt' }] },
    defaults: { 'max-fix-attempts': 1, timeout: '3s' },
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.ok(result.code === 1 || result.code === 3, show(result));
    const fix = (readStateFile(r.repo).sessions ?? []).filter((x: { role: string }) => x.role === 'fix');
    assert.ok(fix.length > 0, 'a fix agent ran');
    assert.ok(
      fix.every((x: { ok: boolean; status?: string }) => !x.ok && x.status === 'ended'),
      JSON.stringify(fix),
    );
    assert.match(`${result.stdout}\n${result.stderr}`, 'timed out after 3s');
  } finally {
    r.cleanup();
  }
});

test.run();
