/**
 * The `github-actions` executor end to end, offline (docs/executors.md): the loopback GitHub server serves the
 * Actions endpoints (checked against GitHub's OpenAPI description) and runs each dispatched workflow run on this
 * machine — the workflow `init-workflow` wrote, committed in the repository's bare origin, whose run step is the
 * tool's real `agent-job` — so a whole milestone lands through it. Crash tests kill the runner right after GitHub
 * created a run (before the runner heard its id) and after the id was recorded: the restarted runner re-attaches,
 * and the server counts exactly one run per attempt. `run --stop` cancels a remote run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActionsRoutes, evaluate } from './support/github-actions-routes.ts';
import { startGithubServer, type GithubServer } from './support/github-server.ts';
import {
  COMMITTING_AGENT,
  git,
  makeRepo,
  readStateFile,
  ROOT,
  runCli,
  tempDir,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { runInProcess, startKillable } from './support/cli.ts';
import { handlesRecorded } from './support/state-files.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';

const TOKEN = 'ghp_loopback';
const REPO = 'acme/widgets';

interface Rig {
  readonly repo: TestRepo;
  readonly github: GithubServer;
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** A repository with a two-item milestone run through github-actions, its workflow committed and on origin. */
async function rig(command: string, workflow = true): Promise<Rig> {
  const plan = `milestone: {number: 7, title: "Remote"}
waves:
  - wave: 1
    items:
      - {issue: 1, title: "Alpha"}
      - {issue: 2, title: "Beta"}
defaults:
  agent: command
  retries: 0
  timeout: 60s
  command: ${JSON.stringify(command)}
  executor: {kind: github-actions, repo: ${REPO}}
`;
  const repo = await makeRepo({
    plan,
    items: [
      { issue: 1, title: 'Alpha' },
      { issue: 2, title: 'Beta' },
    ],
    origin: true,
  });
  if (workflow) {
    const written = await runInProcess('init-workflow', ['--repo', repo.dir]);
    assert.is(written.code, 0, output(written));
    await git(repo.dir, 'add', '-A');
    await git(repo.dir, 'commit', '-qm', 'the agent workflow');
    await git(repo.dir, 'push', '-q', 'origin', 'main');
  }
  const github = await startGithubServer({ repo: REPO, token: TOKEN, milestones: [], issues: [] });
  github.actions = createActionsRoutes(REPO, {
    origin: repo.origin ?? '',
    // The job installs the tool with npx on GitHub; here it is this checkout's.
    vars: { WORK_MILESTONE: `node ${path.join(ROOT, 'bin', 'work-milestone.mjs')}` },
    secrets: { ANTHROPIC_API_KEY: 'sk-not-used' },
  });
  return {
    repo,
    github,
    env: { GITHUB_API_URL: github.url, GH_TOKEN: TOKEN, WM_REMOTE_POLL_MS: '50', WM_GITHUB_WRITE_GAP_MS: '0' },
    cleanup: async () => {
      await github.actions?.settle();
      await github.close();
      repo.cleanup();
    },
  };
}

/** Runs per run-name: exactly one per attempt. */
function runsPerName(github: GithubServer): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of github.actions?.runs ?? []) counts[run.displayTitle] = (counts[run.displayTitle] ?? 0) + 1;
  return counts;
}

const ONE_RUN_EACH = { 'work-milestone 7-1-item-1': 1, 'work-milestone 7-2-item-1': 1 };

/** What the runs printed, for a failure message. */
const logs = (github: GithubServer) =>
  (github.actions?.runs ?? []).map((r) => `${r.displayTitle}:\n${r.log}`).join('\n');

test('a whole milestone lands through github-actions: each item one workflow run of the real agent-job', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.github)}`);
    const landed = await git(r.repo.origin ?? '', 'rev-parse', 'main');
    for (const n of [1, 2]) assert.is(await git(r.repo.origin ?? '', 'show', `${landed}:item-${n}.txt`), String(n));
    // The commits were made on the "runner" (the workflow's git identity), not in the local worktree.
    for (const n of [1, 2])
      assert.is(await git(r.repo.dir, 'log', '-1', '--format=%an', 'main', '--', `item-${n}.txt`), 'work-milestone');
    assert.equal(runsPerName(r.github), ONE_RUN_EACH);
    for (const run of r.github.actions?.runs ?? []) {
      assert.is(run.conclusion, 'success');
      assert.is(run.inputs['base-sha'], await git(r.repo.dir, 'rev-parse', `${run.inputs['base-sha']}^{commit}`));
    }
    // The runner pushed the integration branch before dispatching; the jobs pushed the item branches.
    assert.ok(await git(r.repo.origin ?? '', 'branch', '--list', 'milestone/*'));
    assert.is((await git(r.repo.origin ?? '', 'branch', '--list', 'work/*')).split('\n').length, 2);
    const state = readStateFile(r.repo);
    assert.is(state.items['1'].status, 'complete');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('runner killed after GitHub created the run, before it heard the run id: the restart re-attaches, one run each', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir, '--concurrency', '1'], { env: r.env });
    let dropped = 0;
    (r.github.actions as NonNullable<GithubServer['actions']>).onDispatch = async () => {
      if (dropped++ > 0) return 'answer';
      await run.kill();
      return 'drop';
    };
    await run.closed;
    const state = readStateFile(r.repo);
    const recorded = Object.values(state.items).find((i: any) => i.handle);
    assert.is((recorded as any)?.handle.runId, null, 'the handle was recorded before the dispatch, without a run id');
    assert.is(r.github.actions?.runs.length, 1, 'GitHub has the run');
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.github)}`);
    assert.equal(runsPerName(r.github), ONE_RUN_EACH);
    assert.match(await git(r.repo.origin ?? '', 'show', 'main:item-1.txt'), '1');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('runner killed after the run id was recorded: the restart polls that run, one run each', async () => {
  const go = path.join(tempDir('wm-go-'), 'go');
  const r = await rig(`${shWaitForFile(go)}; ${COMMITTING_AGENT}`);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    await waitFor('both run ids recorded', () => handlesRecorded(r.repo, 'runId'));
    await run.kill();
    const status = await runInProcess('status', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.match(
      status.stdout,
      /#1 Alpha: in-progress \(attempt 1, remote: https:\/\/github\.com\/acme\/widgets\/actions\/runs\/\d+\)/,
      output(status),
    );
    writeFileSync(go, '');
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.github)}`);
    assert.equal(runsPerName(r.github), ONE_RUN_EACH);
    assert.equal(r.github.problems, []);
  } finally {
    writeFileSync(go, '');
    await r.cleanup();
  }
});

test('runs deleted while no runner watched: the result refs the jobs pushed count as done, no second run', async () => {
  const go = path.join(tempDir('wm-go-'), 'go');
  const r = await rig(`${shWaitForFile(go)}; ${COMMITTING_AGENT}`);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    await waitFor('both run ids recorded', () => handlesRecorded(r.repo, 'runId'));
    await run.kill();
    writeFileSync(go, '');
    const actions = r.github.actions as NonNullable<GithubServer['actions']>;
    await actions.settle();
    // Past GitHub's retention: neither the runs nor their artifacts are there any more.
    actions.runs.splice(0);
    actions.artifacts.splice(0);
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, output(result));
    assert.is(actions.runs.length, 0, 'nothing dispatched again');
    const landed = await git(r.repo.origin ?? '', 'rev-parse', 'main');
    for (const n of [1, 2]) assert.is(await git(r.repo.origin ?? '', 'show', `${landed}:item-${n}.txt`), String(n));
    assert.equal(r.github.problems, []);
  } finally {
    writeFileSync(go, '');
    await r.cleanup();
  }
});

test('no GitHub token: bad input (exit 2) before anything is recorded, pushed or dispatched', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const env = { ...r.env, GH_TOKEN: '', GITHUB_TOKEN: '', PATH: `${tempDir('wm-nogh-')}:${process.env.PATH ?? ''}` };
    // `gh auth token` must not find a login either: a gh that knows none is first on PATH.
    writeFileSync(path.join(env.PATH.split(':')[0] ?? '', 'gh'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir], { env });
    assert.is(result.code, 2, output(result));
    assert.match(result.stderr, 'no GitHub token for the github-actions executor');
    assert.is(r.github.actions?.runs.length, 0);
    assert.is(await git(r.repo.origin ?? '', 'branch', '--list', 'milestone/*'), '');
    const state = readStateFile(r.repo);
    assert.is(state.items['1'].attempts, 0, 'the attempt does not count');
  } finally {
    await r.cleanup();
  }
});

test('no workflow on the repository: bad input naming init-workflow; the attempt does not count', async () => {
  const r = await rig(COMMITTING_AGENT, false);
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.is(result.code, 2, output(result));
    assert.match(result.stderr, 'npx work-milestone init-workflow');
    assert.is(r.github.actions?.runs.length, 0);
    assert.is(readStateFile(r.repo).items['1'].attempts, 0);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('dispatch without the run in the answer (204): the run is found by its run-name', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    (r.github.actions as NonNullable<GithubServer['actions']>).returnRunDetails = false;
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.github)}`);
    assert.equal(runsPerName(r.github), ONE_RUN_EACH);
    assert.ok(
      r.github.received.some((q) => q.operationId === 'actions/list-workflow-runs'),
      'looked up by run-name',
    );
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('run --stop cancels the remote runs; the next run dispatches new attempts', async () => {
  const go = path.join(tempDir('wm-go-'), 'go');
  const r = await rig(`${shWaitForFile(go)}; ${COMMITTING_AGENT}`);
  try {
    const first = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    await waitFor(
      'both runs in progress',
      () => (r.github.actions?.runs ?? []).filter((run) => run.status === 'in_progress' && run.child).length === 2,
    );
    await first.kill();
    const stopped = await runCli('run', ['7', '--repo', r.repo.dir, '--stop'], { env: r.env });
    assert.is(stopped.code, 0, output(stopped));
    assert.equal(
      r.github.actions?.runs.map((run) => run.conclusion),
      ['cancelled', 'cancelled'],
    );
    writeFileSync(go, '');
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.github)}`);
    assert.equal(runsPerName(r.github), {
      'work-milestone 7-1-item-1': 1,
      'work-milestone 7-2-item-1': 1,
      'work-milestone 7-1-item-2': 1,
      'work-milestone 7-2-item-2': 1,
    });
    assert.equal(r.github.problems, []);
  } finally {
    writeFileSync(go, '');
    await r.cleanup();
  }
});

test('init-workflow: the workflow passes action-validator, is written once, and a changed one is left alone', async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "x"}\nwaves: []\n', items: [] });
  try {
    assert.is((await runInProcess('init-workflow', ['--repo', repo.dir])).code, 0);
    const file = path.join(repo.dir, '.github', 'workflows', 'work-milestone-agent.yml');
    const validator = path.join(ROOT, 'node_modules', '.bin', 'action-validator');
    execFileSync(validator, [file], { stdio: 'pipe' });
    const text = readFileSync(file, 'utf8');
    for (const input of ['milestone', 'issue', 'attempt', 'base-sha', 'branch', 'correlation-id'])
      assert.match(text, new RegExp(`\\n      ${input}:\\n        description: `), `${input} has a description`);
    assert.match(text, 'run-name: work-milestone ${{ inputs.correlation-id }}');
    assert.match(text, 'permissions:\n  contents: write');
    assert.match(text, 'timeout-minutes: ${{ inputs.timeout-minutes }}');
    assert.match(text, 'ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}');
    // The validator is not a rubber stamp: a job without runs-on fails it.
    const broken = path.join(repo.root, 'broken.yml');
    writeFileSync(broken, text.replace(/ {4}runs-on: .*\n/, ''));
    assert.throws(() => execFileSync(validator, [broken], { stdio: 'pipe' }));
    const again = await runInProcess('init-workflow', ['--repo', repo.dir]);
    assert.is(again.code, 0);
    assert.match(again.stdout, 'up to date');
    writeFileSync(file, `${text}# mine\n`);
    const changed = await runInProcess('init-workflow', ['--repo', repo.dir]);
    assert.is(changed.code, 2);
    assert.match(changed.stderr, 'exists with other content');
    assert.is(readFileSync(file, 'utf8'), `${text}# mine\n`);
  } finally {
    repo.cleanup();
  }
});

test('the loopback runner evaluates the expressions the workflow uses', () => {
  const contexts = { inputs: { issue: '3' }, vars: {}, secrets: { K: 's' } };
  assert.is(evaluate('a ${{ inputs.issue }} b', contexts), 'a 3 b');
  assert.is(evaluate("${{ vars.X || 'npx w' }}", contexts), 'npx w');
  assert.is(evaluate('${{ secrets.K }}', contexts), 's');
});

test('--executor and the plan: a bad executor kind is refused with the plan position', async () => {
  const repo = await makeRepo({
    plan: 'milestone: {number: 7, title: "x"}\nwaves:\n  - wave: 1\n    items: [{issue: 1, title: "A"}]\ndefaults:\n  executor: {kind: cloud}\n',
    items: [{ issue: 1, title: 'A' }],
  });
  try {
    const plan = await runInProcess('plan', ['7', '--repo', repo.dir]);
    assert.is(plan.code, 2, output(plan));
    assert.match(plan.stderr, /milestone-7-dispatch\.yaml:6:\d+/);
    const flag = await runInProcess('run', ['7', '--repo', repo.dir, '--executor', 'cloud']);
    assert.is(flag.code, 2);
    assert.match(flag.stderr, '--executor must be one of local, github-actions, kubernetes, got "cloud"');
  } finally {
    repo.cleanup();
  }
});

test('agent-job force-pushes item branches only: main or any other branch is refused before anything runs', async () => {
  const dir = tempDir('wm-job-');
  try {
    for (const branch of ['main', 'milestone/7-x', 'work/../main', 'refs/heads/main']) {
      const r = await runInProcess('agent-job', ['out'], { cwd: dir, env: { WM_JOB: 'e30=', WM_JOB_BRANCH: branch } });
      assert.is(r.code, 2, output(r));
      assert.match(r.stderr, `agent-job pushes item branches (work/…) only, not "${branch}"`);
    }
    assert.equal(readdirSync(dir), [], 'nothing was written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
