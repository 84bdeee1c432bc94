/**
 * The `kubernetes` executor end to end, offline (docs/executors.md): the real `kubectl` against the loopback
 * Kubernetes API server (every Job checked against the Kubernetes schema), whose "pods" run the Job's command — the
 * tool's real `agent-job` — on this machine against the repository's bare origin. A whole milestone lands; the
 * runner killed inside the Job's creation (before it heard the answer) and after it resumes with exactly one Job
 * per attempt (`status` shows the Job meanwhile); `run --stop` deletes the Jobs with background propagation.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { jobManifest, jobNameOf } from '../tasks/executors/kubernetes/job-manifest.ts';
import { BUILTIN_EXECUTOR } from '../tasks/lib/plan/normalise.ts';
import { startKubeServer, type KubeServer } from './support/kube-server.ts';
import { COMMITTING_AGENT, git, makeRepo, ROOT, runCli, tempDir } from './support/fixture.ts';
import type { CliResult, TestRepo } from './support/fixture.ts';
import { startKillable } from './support/cli.ts';
import { handlesRecorded } from './support/state-files.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';

interface Rig {
  readonly repo: TestRepo;
  readonly kube: KubeServer;
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const logs = (kube: KubeServer) => [...kube.jobs.values()].map((j) => `${j.name}:\n${j.log}`).join('\n');

/** Agents that need the Secret's key: it reaches them through envFrom. */
const SECRET_AGENT = `test "$ANTHROPIC_API_KEY" = from-secret && ${COMMITTING_AGENT}`;

async function rig(command: string): Promise<Rig> {
  const plan = `milestone: {number: 7, title: "Cluster"}
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
  executor: {kind: kubernetes, namespace: agents, secret: agent-keys, memory: 1Gi, cpu: 500m}
`;
  const repo = await makeRepo({
    plan,
    items: [
      { issue: 1, title: 'Alpha' },
      { issue: 2, title: 'Beta' },
    ],
    origin: true,
  });
  const kube = await startKubeServer({ secrets: { 'agent-keys': { ANTHROPIC_API_KEY: 'from-secret' } } });
  return {
    repo,
    kube,
    env: {
      KUBECONFIG: kube.kubeconfig,
      // The image would have the tool; here it is this checkout's.
      WORK_MILESTONE: `node ${path.join(ROOT, 'bin', 'work-milestone.mjs')}`,
    },
    cleanup: async () => {
      await kube.settle();
      await kube.close();
      repo.cleanup();
    },
  };
}

const ONE_JOB_EACH = { 'wm-7-1-item-1': 1, 'wm-7-2-item-1': 1 };

test('the Job manifest: DNS-1123 name, labels, no retries, deadline and TTL; it passes the Kubernetes schema', () => {
  const manifest = jobManifest({
    id: '7-12-item-3',
    milestone: '7',
    issue: 12,
    attempt: 3,
    branch: 'work/7-12-x',
    base: 'a'.repeat(40),
    remoteUrl: 'https://example.com/acme/widgets.git',
    job: 'H4sI',
    timeoutMs: 45 * 60_000,
    tool: 'npx --yes work-milestone@0.1.0',
    settings: { ...BUILTIN_EXECUTOR, kind: 'kubernetes', secret: 'keys', cpu: '2' },
  }) as any;
  new Job(manifest).validate();
  assert.is(manifest.metadata.name, 'wm-7-12-item-3');
  assert.equal(manifest.metadata.labels['work-milestone/issue'], '12');
  assert.is(manifest.spec.backoffLimit, 0);
  assert.is(manifest.spec.activeDeadlineSeconds, 2700);
  assert.ok(manifest.spec.ttlSecondsAfterFinished > 60);
  assert.is(manifest.spec.template.spec.restartPolicy, 'Never');
  assert.equal(manifest.spec.template.spec.containers[0].envFrom, [{ secretRef: { name: 'keys' } }]);
  assert.is(jobNameOf('M_1.x-99-item-1'), 'wm-m-1-x-99-item-1');
  assert.ok(jobNameOf(`${'x'.repeat(80)}-1-item-1`).length <= 63);
  // The schema check is not a rubber stamp.
  assert.throws(() => new Job({ ...manifest, spec: { ...manifest.spec, backoffLimit: 'none' } }).validate());
});

test('a whole milestone lands through kubernetes: the real kubectl, one Job per item running the real agent-job', async () => {
  const r = await rig(SECRET_AGENT);
  try {
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.kube)}`);
    const landed = await git(r.repo.origin ?? '', 'rev-parse', 'main');
    for (const n of [1, 2]) assert.is(await git(r.repo.origin ?? '', 'show', `${landed}:item-${n}.txt`), String(n));
    assert.equal(Object.fromEntries(r.kube.created), ONE_JOB_EACH);
    for (const job of r.kube.jobs.values()) assert.is(job.namespace, 'agents');
    assert.equal(r.kube.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('runner killed inside the Job creation (it never heard the answer): the restart finds the Job, one per attempt', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir, '--concurrency', '1'], { env: r.env });
    let dropped = 0;
    r.kube.onCreate = async () => {
      if (dropped++ > 0) return 'answer';
      await run.kill();
      return 'drop';
    };
    await run.closed;
    assert.is(r.kube.created.size, 1);
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.kube)}`);
    assert.equal(Object.fromEntries(r.kube.created), ONE_JOB_EACH);
    assert.equal(r.kube.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('runner killed after the Jobs were created: the restart polls them by name, one Job per attempt', async () => {
  const go = path.join(tempDir('wm-go-'), 'go');
  const r = await rig(`${shWaitForFile(go)}; ${COMMITTING_AGENT}`);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    await waitFor('both Jobs running', () => [...r.kube.jobs.values()].filter((j) => j.child).length === 2);
    await run.kill();
    const status = await runCli('status', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.match(status.stdout, '#1 Alpha: in-progress (attempt 1, remote: job agents/wm-7-1-item-1)', output(status));
    writeFileSync(go, '');
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.kube)}`);
    assert.equal(Object.fromEntries(r.kube.created), ONE_JOB_EACH);
    assert.equal(r.kube.problems, []);
  } finally {
    writeFileSync(go, '');
    await r.cleanup();
  }
});

test('runner killed while the Jobs run, then run --stop: the Jobs are deleted; the next run starts new ones', async () => {
  const go = path.join(tempDir('wm-go-'), 'go');
  const r = await rig(`${shWaitForFile(go)}; ${COMMITTING_AGENT}`);
  try {
    const run = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    await waitFor('both Jobs running', () => [...r.kube.jobs.values()].filter((j) => j.child).length === 2);
    await waitFor('both handles recorded', () => handlesRecorded(r.repo, 'job'));
    await run.kill();
    const stopped = await runCli('run', ['7', '--repo', r.repo.dir, '--stop'], { env: r.env });
    assert.is(stopped.code, 0, output(stopped));
    assert.is(r.kube.jobs.size, 0, 'deleted');
    writeFileSync(go, '');
    const result = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env, timeoutMs: 300_000 });
    assert.is(result.code, 0, `${output(result)}\n${logs(r.kube)}`);
    assert.equal(Object.fromEntries(r.kube.created), {
      'wm-7-1-item-1': 1,
      'wm-7-2-item-1': 1,
      'wm-7-1-item-2': 1,
      'wm-7-2-item-2': 1,
    });
    assert.equal(r.kube.problems, []);
  } finally {
    writeFileSync(go, '');
    await r.cleanup();
  }
});

test.run();
