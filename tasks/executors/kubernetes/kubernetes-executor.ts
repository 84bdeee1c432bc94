/**
 * The `kubernetes` executor (docs/executors.md): an item's attempt is one `batch/v1` Job, applied and read through
 * the real `kubectl` (`apply -f -`, `get job -o json`, `get pods -o json`; never `kubectl wait`, which does not return
 * when a Job fails). The Job's name is the correlation id, so the handle recorded before the apply is all a runner
 * that died needs to find it; the pod runs `agent-job` as a GitHub Actions job does, pushes the item branch and the
 * result ref, and leaves the result's short form as its termination message.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { KubernetesHandle } from '../../lib/agent-handle.ts';
import { writeFileAtomic } from '../../lib/atomic-file.ts';
import { gitRaw } from '../../lib/git.ts';
import { encodeJobSpec, jobSpecOf, RESULT_FILE, resultRefOf, type JobResult } from '../remote/job-spec.ts';
import { pushIntegration, readRemoteFile } from '../remote/remote-branch.ts';
import { collectRemoteRun, remoteRunFiles } from '../remote/collect-remote.ts';
import type { AgentHandle, AgentRunResult, AgentStatus, DispatchSpec, Executor } from '../types.ts';
import { jobManifest, jobNameOf } from './job-manifest.ts';
import { kubectl, kubectlOk } from './kubectl.ts';
import { packageVersion } from '../../lib/package-root.ts';
import { writeOwnFile } from '../../lib/own-file.ts';
import { readRegularFile } from '../../lib/regular-file.ts';

/** The short result a pod leaves as its termination message. */
interface Termination {
  readonly id: string;
  readonly exitCode: number;
  readonly pushed: string | null;
}

function asKube(handle: AgentHandle): KubernetesHandle {
  if (handle.kind !== 'kubernetes') throw new Error(`internal: a ${handle.kind} handle given to kubernetes`);
  return handle;
}

/** How the pod runs the tool: WORK_MILESTONE of the runner's environment, else npx of this version. */
function toolOf(env: NodeJS.ProcessEnv): string {
  const given = env.WORK_MILESTONE?.trim();
  if (given) return given;
  return `npx --yes work-milestone@${packageVersion()}`;
}

/** A Job as `kubectl get -o json` shows it: what the executor reads. */
interface JobView {
  readonly status?: {
    readonly active?: number;
    readonly startTime?: string;
    readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string }>;
  };
}

/** A pod as `kubectl get -o json` shows it: its container's termination message. */
interface PodView {
  readonly status?: {
    readonly containerStatuses?: ReadonlyArray<{
      readonly state?: { readonly terminated?: { readonly message?: string } };
    }>;
  };
}

/** The kubernetes executor; kubectl runs with `env` (KUBECONFIG, KUBECTL). */
export function kubernetesExecutor(env: NodeJS.ProcessEnv): Executor {
  const ns = (handle: KubernetesHandle) => ['--namespace', handle.namespace];

  async function getJob(handle: KubernetesHandle): Promise<JobView | null> {
    const out = await kubectlOk(env, ['get', 'job', handle.job, ...ns(handle), '-o', 'json', '--ignore-not-found']);
    return out.trim() ? (JSON.parse(out) as JobView) : null;
  }

  /** The termination message of the Job's pod, when it has ended. */
  async function terminationOf(handle: KubernetesHandle): Promise<Termination | null> {
    const out = await kubectl(env, ['get', 'pods', ...ns(handle), '-l', `job-name=${handle.job}`, '-o', 'json']);
    if (out.code !== 0) return null;
    const pods = (JSON.parse(out.stdout) as { items?: PodView[] }).items ?? [];
    for (const pod of pods) {
      const message = pod?.status?.containerStatuses?.[0]?.state?.terminated?.message;
      if (typeof message !== 'string') continue;
      try {
        const parsed = JSON.parse(message) as Termination;
        if (parsed.id === handle.id) return parsed;
      } catch {
        // not ours: the pod died before agent-job wrote it
      }
    }
    return null;
  }

  /** The whole result: kept here once read, else the result ref the pod pushed. */
  async function resultOf(handle: KubernetesHandle): Promise<JobResult | null> {
    const files = remoteRunFiles(handle);
    if (existsSync(files.result)) return JSON.parse(await readRegularFile(files.result)) as JobResult;
    const text = await readRemoteFile(handle.worktree, handle.remote, resultRefOf(handle.id), RESULT_FILE);
    const result = text === null ? null : (JSON.parse(text) as JobResult);
    if (!result || result.id !== handle.id) return null;
    await writeFileAtomic(files.stdout, result.stdout);
    await writeFileAtomic(files.stderr, result.stderr);
    await writeFileAtomic(files.result, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  }

  const ended = (code: number): AgentStatus =>
    code === 0 ? { state: 'succeeded' } : { state: 'failed', exitCode: code };

  async function poll(h: AgentHandle): Promise<AgentStatus> {
    const handle = asKube(h);
    const cancelled = existsSync(remoteRunFiles(handle).cancelled);
    const job = await getJob(handle);
    if (!job) {
      if (cancelled) return { state: 'cancelled' };
      // Gone after it finished (ttlSecondsAfterFinished): its pushed result says how it ended.
      const result = await resultOf(handle);
      if (result) return ended(result.exitCode);
      return { state: 'lost', reason: `no Job ${handle.job} in ${handle.namespace}` };
    }
    const conditions = job.status?.conditions ?? [];
    const done = conditions.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    if (!done) {
      if ((job.status?.active ?? 0) > 0)
        return { state: 'running', pid: null, startedAt: job.status?.startTime ?? handle.dispatchedAt };
      return { state: 'queued' };
    }
    const termination = await terminationOf(handle);
    if (termination) return ended(termination.exitCode);
    const result = await resultOf(handle);
    if (result) return ended(result.exitCode);
    // Failed before agent-job wrote a result (image pull, clone, deadline): an attempt that failed.
    return cancelled ? { state: 'cancelled' } : { state: 'failed', exitCode: 1 };
  }

  async function dispatch(spec: DispatchSpec, record: (handle: AgentHandle) => Promise<void>): Promise<AgentHandle> {
    const target = spec.remote;
    if (!target) throw new Error(`internal: ${spec.id} dispatched to kubernetes without its item`);
    const settings = target.executor;
    const prompt = await readRegularFile(spec.launch.stdinFile ?? spec.env.WM_PROMPT_FILE ?? '/dev/null');
    const job = encodeJobSpec(jobSpecOf(spec.id, spec.agent, spec.launch, prompt, spec.env));
    const remoteUrl = (await gitRaw(spec.cwd, ['remote', 'get-url', settings.remote])).stdout.trim();
    const manifest = jobManifest({
      id: spec.id,
      milestone: target.milestone,
      issue: target.issue,
      attempt: target.attempt,
      branch: target.branch,
      base: target.base,
      remoteUrl,
      job,
      timeoutMs: target.timeoutMs,
      tool: toolOf(env),
      settings,
    });
    const handle: KubernetesHandle = {
      kind: 'kubernetes',
      id: spec.id,
      agent: spec.agent,
      dir: spec.dir,
      name: spec.name,
      job: jobNameOf(spec.id),
      namespace: settings.namespace,
      remote: settings.remote,
      branch: target.branch,
      worktree: spec.cwd,
      base: target.base,
      dispatchedAt: new Date().toISOString(),
    };
    // kubectl is there (bad input otherwise) before anything is recorded or pushed.
    await kubectlOk(env, ['version', '--client', '-o', 'json']);
    for (const file of Object.values(remoteRunFiles(handle))) await rm(file, { force: true });
    await record(handle);
    await pushIntegration(spec.cwd, settings.remote, target.base, target.integrationBranch);
    // An earlier run of the same name (a runner that died after applying it) is not applied twice.
    // The manifest is checked against the Kubernetes schema by the tests; kubectl's own check would need the
    // cluster's OpenAPI document first (one more round trip per attempt).
    if (!(await getJob(handle)))
      await kubectlOk(env, ['apply', '--validate=false', '-f', '-'], JSON.stringify(manifest));
    return handle;
  }

  async function collect(h: AgentHandle): Promise<AgentRunResult> {
    const handle = asKube(h);
    const status = await poll(handle);
    return collectRemoteRun(
      status,
      {
        agent: handle.agent,
        what: `the Job ${handle.job}`,
        pusher: 'the pod',
        worktree: handle.worktree,
        remote: handle.remote,
        branch: handle.branch,
        stdoutFile: remoteRunFiles(handle).stdout,
      },
      () => resultOf(handle),
    );
  }

  async function cancel(h: AgentHandle): Promise<void> {
    const handle = asKube(h);
    await writeOwnFile(remoteRunFiles(handle).cancelled, `${new Date().toISOString()}\n`);
    await kubectlOk(env, [
      'delete',
      'job',
      handle.job,
      ...ns(handle),
      '--cascade=background',
      '--ignore-not-found',
      '--wait=false',
    ]);
  }

  return { kind: 'kubernetes', dispatch, poll, collect, cancel };
}
