/**
 * The `github-actions` executor (docs/executors.md): an item's attempt is one run of the workflow `init-workflow`
 * writes. The handle is recorded before the dispatch (run id null) and again with the run id; a runner that died in
 * between finds the run by its run-name (the correlation id), so an attempt is never dispatched twice. The job runs
 * `work-milestone agent-job` (the adapter's command line, as locally), pushes the item branch and uploads a bounded
 * result; `collect` downloads it and fetches the branch into the item's worktree.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiBaseOf, repoOfRemoteUrl } from '../../backlog/github-urls.ts';
import type { GithubActionsHandle } from '../../lib/agent-handle.ts';
import { writeFileAtomic } from '../../lib/atomic-file.ts';
import { BadInputError } from '../../lib/errors.ts';
import { gitRaw } from '../../lib/git.ts';
import type { AgentHandle, AgentRunResult, AgentStatus, DispatchSpec, Executor } from '../types.ts';
import type { ActionsApi, RunView } from './actions-api.ts';
import { encodeJobSpec, jobSpecOf, RESULT_FILE, resultRefOf, type JobResult } from '../remote/job-spec.ts';
import { pushIntegration, readRemoteFile } from '../remote/remote-branch.ts';
import { collectRemoteRun, remoteRunFiles } from '../remote/collect-remote.ts';
import { writeOwnFile } from '../../lib/own-file.ts';
import { readRegularFile } from '../../lib/regular-file.ts';

/**
 * The Actions API of a handle's repository. Loaded when first used: it brings Octokit, which a run whose agents are
 * all local never needs (the registry names every executor).
 */
async function actionsApiOf(handle: GithubActionsHandle, env: NodeJS.ProcessEnv): Promise<ActionsApi> {
  return (await import('./actions-api.ts')).actionsApiOf(handle, env);
}

/** How long a dispatched run may be missing from GitHub's list before it counts as never started. */
const APPEAR_GRACE_MS = 2 * 60_000;

/** How long `cancel` waits for GitHub to end a cancelled run. */
const CANCEL_WAIT_MS = 2 * 60_000;

/** How often a run is asked about: `WM_REMOTE_POLL_MS`, else every 10 s (5,000 requests an hour is the limit). */
function pollIntervalOf(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.WM_REMOTE_POLL_MS ?? '');
  return Number.isFinite(ms) && ms > 0 ? ms : 10_000;
}

function asActions(handle: AgentHandle): GithubActionsHandle {
  if (handle.kind !== 'github-actions') throw new Error(`internal: a ${handle.kind} handle given to github-actions`);
  return handle;
}

/** `owner/name` of the settings, else of the remote's URL; bad input when neither says. */
async function repoOf(spec: DispatchSpec, repo: string | null, remote: string): Promise<string> {
  if (repo) return repo;
  const url = (await gitRaw(spec.cwd, ['remote', 'get-url', remote])).stdout.trim();
  const found = repoOfRemoteUrl(url);
  if (!found)
    throw new BadInputError(
      `executor github-actions: cannot tell the GitHub repository from ${remote} (${url || 'no such remote'}); ` +
        'set executor.repo: owner/name in the plan',
    );
  return found;
}

/** The prompt the launch gives the agent (stdin, else the file WM_PROMPT_FILE names). */
async function promptOf(spec: DispatchSpec): Promise<string> {
  const file = spec.launch.stdinFile ?? spec.env.WM_PROMPT_FILE;
  return file ? readRegularFile(file) : '';
}

/** The github-actions executor; `env` holds the token (GH_TOKEN, GITHUB_TOKEN, `gh auth token`). */
export function githubActionsExecutor(env: NodeJS.ProcessEnv): Executor {
  // The last answer per run, so a runner polling every 200 ms asks GitHub once per poll interval.
  const seen = new Map<string, { at: number; status: AgentStatus }>();

  /** The run of the handle: by id when known, else by run-name. */
  async function runOf(handle: GithubActionsHandle): Promise<RunView | null> {
    const api = await actionsApiOf(handle, env);
    return handle.runId !== null
      ? api.getRun(handle.runId)
      : api.findRun(handle.workflow, handle.id, handle.dispatchedAt);
  }

  /**
   * The result, downloaded once and kept beside the handle's other files: from the run's artifact, else (no run
   * found, the artifact expired) from the result ref the job pushed.
   */
  async function resultOf(handle: GithubActionsHandle, run: RunView | null): Promise<JobResult | null> {
    const files = remoteRunFiles(handle);
    if (existsSync(files.result)) return JSON.parse(await readRegularFile(files.result)) as JobResult;
    let result = run ? await (await actionsApiOf(handle, env)).readResult(run.id, handle.id) : null;
    if (!result) {
      const text = await readRemoteFile(handle.worktree, handle.remote, resultRefOf(handle.id), RESULT_FILE);
      result = text === null ? null : (JSON.parse(text) as JobResult);
    }
    if (!result || result.id !== handle.id) return null;
    await writeFileAtomic(files.stdout, result.stdout);
    await writeFileAtomic(files.stderr, result.stderr);
    await writeFileAtomic(files.result, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  }

  async function statusOf(handle: GithubActionsHandle): Promise<AgentStatus> {
    const cancelled = existsSync(remoteRunFiles(handle).cancelled);
    const run = await runOf(handle);
    if (!run) {
      if (cancelled) return { state: 'cancelled' };
      if (Date.now() - Date.parse(handle.dispatchedAt) < APPEAR_GRACE_MS && handle.runId === null)
        return { state: 'queued' };
      // Its run is gone (deleted, or past retention) but the job pushed its result: the attempt is done.
      const result = await resultOf(handle, null);
      if (result)
        return result.exitCode === 0 ? { state: 'succeeded' } : { state: 'failed', exitCode: result.exitCode };
      return { state: 'lost', reason: `no run of ${handle.workflow} named ${handle.id} on ${handle.repo}` };
    }
    switch (run.status) {
      case 'completed':
        break;
      case 'in_progress':
        return { state: 'running', pid: null, startedAt: run.startedAt ?? run.createdAt };
      default:
        // queued, waiting, requested, pending: no machine yet.
        return { state: 'queued' };
    }
    // A cancelled run's result (an upload that ran anyway) is not used: the attempt was stopped.
    if (run.conclusion === 'cancelled') return { state: 'cancelled' };
    const result = await resultOf(handle, run);
    if (result) return result.exitCode === 0 ? { state: 'succeeded' } : { state: 'failed', exitCode: result.exitCode };
    if (cancelled) return { state: 'cancelled' };
    // Ended without a result (the job failed before the agent ran, or timed out): an attempt that failed.
    return { state: 'failed', exitCode: 1 };
  }

  async function dispatch(spec: DispatchSpec, record: (handle: AgentHandle) => Promise<void>): Promise<AgentHandle> {
    const target = spec.remote;
    if (!target) throw new Error(`internal: ${spec.id} dispatched to github-actions without its item`);
    const settings = target.executor;
    const input = encodeJobSpec(jobSpecOf(spec.id, spec.agent, spec.launch, await promptOf(spec), spec.env));
    const handle: GithubActionsHandle = {
      kind: 'github-actions',
      id: spec.id,
      agent: spec.agent,
      dir: spec.dir,
      name: spec.name,
      repo: await repoOf(spec, settings.repo, settings.remote),
      apiUrl: apiBaseOf(env),
      workflow: settings.workflow,
      ref: settings.ref,
      remote: settings.remote,
      branch: target.branch,
      worktree: spec.cwd,
      base: target.base,
      dispatchedAt: new Date().toISOString(),
      runId: null,
      url: null,
    };
    // No token is bad input before anything is recorded or pushed.
    const api = await actionsApiOf(handle, env);
    for (const file of Object.values(remoteRunFiles(handle))) await rm(file, { force: true });
    await record(handle);
    await pushIntegration(spec.cwd, settings.remote, target.base, target.integrationBranch);
    const inputs = {
      milestone: target.milestone,
      issue: String(target.issue),
      attempt: String(target.attempt),
      'base-sha': target.base,
      branch: target.branch,
      'correlation-id': spec.id,
      'timeout-minutes': String(Math.max(1, Math.ceil(target.timeoutMs / 60_000))),
      job: input,
    };
    let run = await api.dispatch(settings.workflow, settings.ref, inputs);
    // Older GitHub servers answer 204 without the run: it is found by its run-name once listed.
    const deadline = Date.now() + APPEAR_GRACE_MS;
    while (!run && Date.now() < deadline) {
      run = await api.findRun(settings.workflow, spec.id, handle.dispatchedAt);
      if (!run) await sleep(Math.min(pollIntervalOf(env), 2000));
    }
    if (!run) return handle;
    const known: GithubActionsHandle = { ...handle, runId: run.id, url: run.url };
    await record(known);
    return known;
  }

  async function poll(h: AgentHandle): Promise<AgentStatus> {
    const handle = asActions(h);
    const last = seen.get(handle.id);
    if (last && Date.now() - last.at < pollIntervalOf(env)) return last.status;
    const status = await statusOf(handle);
    seen.set(handle.id, { at: Date.now(), status });
    return status;
  }

  async function collect(h: AgentHandle): Promise<AgentRunResult> {
    const handle = asActions(h);
    seen.delete(handle.id);
    const status = await statusOf(handle);
    const files = remoteRunFiles(handle);
    return collectRemoteRun(
      status,
      {
        agent: handle.agent,
        what: `the run ${handle.url ?? handle.id}`,
        pusher: 'the job',
        worktree: handle.worktree,
        remote: handle.remote,
        branch: handle.branch,
        stdoutFile: files.stdout,
      },
      async () => (existsSync(files.result) ? (JSON.parse(await readRegularFile(files.result)) as JobResult) : null),
    );
  }

  async function cancel(h: AgentHandle): Promise<void> {
    const handle = asActions(h);
    await writeOwnFile(remoteRunFiles(handle).cancelled, `${new Date().toISOString()}\n`);
    seen.delete(handle.id);
    const run = await runOf(handle);
    if (!run || run.status === 'completed') return;
    const api = await actionsApiOf(handle, env);
    await api.cancel(run.id);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    for (;;) {
      const now = await api.getRun(run.id);
      if (!now || now.status === 'completed' || Date.now() > deadline) return;
      await sleep(Math.min(1000, pollIntervalOf(env)));
    }
  }

  return { kind: 'github-actions', dispatch, poll, collect, cancel };
}
