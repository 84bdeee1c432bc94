/**
 * A loopback Kubernetes API server for tests, driven by the real `kubectl` through a kubeconfig pointing at it
 * (docs/executors.md): discovery (`/api`, `/apis`, the v1 and batch/v1 resource lists), `batch/v1` Jobs (create,
 * get, delete) and their pods (list by `job-name`). Every created Job is checked against the Kubernetes schema
 * (`kubernetes-models`, generated from the Kubernetes OpenAPI description); what fails is in `problems`. A created
 * Job "runs" on this machine: its container's command, with its environment (`secretRef`s from `secrets`), in a
 * fresh folder; the termination message is read from the file `WM_TERMINATION_LOG` names (as the kubelet reads
 * `terminationMessagePath`). `created` counts Jobs per name: exactly one per attempt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { listenOnLoopback, readRequest } from '../../tasks/demo/loopback.ts';

/** A Job as the server holds it. */
export interface ServerJob {
  readonly name: string;
  readonly namespace: string;
  readonly manifest: any;
  status: { active?: number; startTime?: string; succeeded?: number; failed?: number; conditions?: unknown[] };
  exitCode: number | null;
  message: string | null;
  child: ChildProcess | null;
  done: Promise<void>;
  log: string;
}

/** The running server. */
export interface KubeServer {
  readonly url: string;
  /** A kubeconfig file pointing at the server (namespace `default`). */
  readonly kubeconfig: string;
  readonly jobs: Map<string, ServerJob>;
  /** Jobs created, per name, over the server's life. */
  readonly created: Map<string, number>;
  readonly problems: string[];
  /** Called when a Job was created, before the answer: 'drop' closes the connection without one. */
  onCreate: ((job: ServerJob) => Promise<'answer' | 'drop'>) | null;
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** What the pods see. */
export interface KubeSeed {
  /** Secrets by name: their keys become variables through `envFrom`. */
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Variables set over the container's (the tool's command line on this machine). */
  readonly override?: Readonly<Record<string, string>>;
}

const status = (code: number, reason: string, message: string) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
});

/** Start the server on 127.0.0.1 and write its kubeconfig. */
export async function startKubeServer(seed: KubeSeed = {}): Promise<KubeServer> {
  const jobs = new Map<string, ServerJob>();
  const created = new Map<string, number>();
  const problems: string[] = [];
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  const run = async (job: ServerJob): Promise<void> => {
    const container = job.manifest.spec.template.spec.containers[0];
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wm-pod-'));
    const termination = path.join(dir, 'termination-log');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir };
    for (const from of container.envFrom ?? []) Object.assign(env, seed.secrets?.[from.secretRef?.name] ?? {});
    for (const e of container.env ?? []) env[e.name] = String(e.value ?? '');
    Object.assign(env, seed.override ?? {});
    // The kubelet's file for the termination message.
    if (env.WM_TERMINATION_LOG) env.WM_TERMINATION_LOG = termination;
    const [file, ...args] = [...(container.command ?? []), ...(container.args ?? [])] as string[];
    job.status = { active: 1, startTime: new Date().toISOString() };
    const code = await new Promise<number>((resolve) => {
      const child = spawn(file ?? 'false', args, { cwd: dir, env, detached: true });
      job.child = child;
      child.stdout.on('data', (d: Buffer) => void (job.log += d.toString()));
      child.stderr.on('data', (d: Buffer) => void (job.log += d.toString()));
      child.once('close', (c) => resolve(c ?? 137));
      child.once('error', () => resolve(127));
    });
    job.child = null;
    job.exitCode = code;
    job.message = existsSync(termination) ? readFileSync(termination, 'utf8').slice(0, 4096) : null;
    const now = new Date().toISOString();
    job.status =
      code === 0
        ? {
            startTime: job.status.startTime,
            succeeded: 1,
            conditions: [{ type: 'Complete', status: 'True', lastTransitionTime: now }],
          }
        : {
            startTime: job.status.startTime,
            failed: 1,
            conditions: [{ type: 'Failed', status: 'True', lastTransitionTime: now }],
          };
  };

  const jobJson = (job: ServerJob) => ({ ...job.manifest, status: job.status });
  const podJson = (job: ServerJob) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${job.name}-pod`, namespace: job.namespace, labels: { 'job-name': job.name } },
    spec: job.manifest.spec.template.spec,
    status: {
      phase: job.exitCode === null ? 'Running' : job.exitCode === 0 ? 'Succeeded' : 'Failed',
      containerStatuses: [
        {
          name: 'agent',
          state:
            job.exitCode === null
              ? { running: { startedAt: job.status.startTime } }
              : { terminated: { exitCode: job.exitCode, ...(job.message === null ? {} : { message: job.message }) } },
        },
      ],
    },
  });

  const handle = async (
    method: string,
    pathname: string,
    query: URLSearchParams,
    body: any,
  ): Promise<{ code: number; body: unknown } | 'drop'> => {
    if (pathname === '/version') return { code: 200, body: { major: '1', minor: '32', gitVersion: 'v1.32.0' } };
    if (pathname === '/api')
      return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (pathname === '/apis')
      return {
        code: 200,
        body: {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: [
            {
              name: 'batch',
              versions: [{ groupVersion: 'batch/v1', version: 'v1' }],
              preferredVersion: { groupVersion: 'batch/v1', version: 'v1' },
            },
          ],
        },
      };
    if (pathname === '/api/v1')
      return {
        code: 200,
        body: {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'] }],
        },
      };
    if (pathname === '/apis/batch/v1')
      return {
        code: 200,
        body: {
          kind: 'APIResourceList',
          groupVersion: 'batch/v1',
          resources: [
            {
              name: 'jobs',
              singularName: 'job',
              namespaced: true,
              kind: 'Job',
              verbs: ['create', 'delete', 'get', 'list', 'patch'],
            },
          ],
        },
      };
    // kubectl apply looks the namespace up first.
    const ns = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(pathname);
    if (ns && method === 'GET')
      return {
        code: 200,
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns[1] }, status: { phase: 'Active' } },
      };
    const pods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(pathname);
    if (pods && method === 'GET') {
      const selector = /^job-name=(.+)$/.exec(query.get('labelSelector') ?? '')?.[1];
      const items = [...jobs.values()].filter((j) => j.namespace === pods[1] && (!selector || j.name === selector));
      return { code: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: items.map(podJson) } };
    }
    const m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(pathname);
    if (!m) {
      problems.push(`${method} ${pathname}: not served`);
      return { code: 404, body: status(404, 'NotFound', 'the server could not find the requested resource') };
    }
    const namespace = m[1] ?? '';
    const name = m[2];
    if (method === 'POST' && !name) {
      try {
        new Job(body).validate();
      } catch (error) {
        problems.push(`Job ${body?.metadata?.name}: ${(error as Error).message}`);
        return { code: 422, body: status(422, 'Invalid', (error as Error).message) };
      }
      const jobName = String(body.metadata.name);
      if (jobs.has(key(namespace, jobName)))
        return { code: 409, body: status(409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`) };
      const job: ServerJob = {
        name: jobName,
        namespace,
        manifest: { ...body, metadata: { ...body.metadata, namespace, uid: `uid-${jobName}` } },
        status: {},
        exitCode: null,
        message: null,
        child: null,
        done: Promise.resolve(),
        log: '',
      };
      jobs.set(key(namespace, jobName), job);
      created.set(jobName, (created.get(jobName) ?? 0) + 1);
      job.done = run(job).catch((error: unknown) => void (job.log += String(error)));
      if (server.onCreate && (await server.onCreate(job)) === 'drop') return 'drop';
      return { code: 201, body: jobJson(job) };
    }
    const job = name ? jobs.get(key(namespace, name)) : undefined;
    if (method === 'GET' && name)
      return job
        ? { code: 200, body: jobJson(job) }
        : {
            code: 404,
            body: {
              ...status(404, 'NotFound', `jobs.batch "${name}" not found`),
              details: { name, group: 'batch', kind: 'jobs' },
            },
          };
    if (method === 'DELETE' && name) {
      if (!job) return { code: 404, body: status(404, 'NotFound', `jobs.batch "${name}" not found`) };
      if (body?.propagationPolicy !== 'Background')
        problems.push(`DELETE ${name}: propagation ${body?.propagationPolicy}`);
      jobs.delete(key(namespace, name));
      if (job.child?.pid) {
        try {
          process.kill(-job.child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      return {
        code: 200,
        body: { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, group: 'batch', kind: 'jobs' } },
      };
    }
    problems.push(`${method} ${pathname}: not served`);
    return { code: 405, body: status(405, 'MethodNotAllowed', `${method} is not served here`) };
  };

  const http_ = http.createServer((req, res) => {
    void (async () => {
      const { pathname, body } = await readRequest(req);
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const answer = await handle(req.method ?? 'GET', pathname, query, body);
      if (answer === 'drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    })().catch((e: unknown) => {
      problems.push(`server error: ${e instanceof Error ? e.stack : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const listening = await listenOnLoopback(http_, 'kube server');
  const url = `http://127.0.0.1:${listening.port}`;
  const kubeconfig = path.join(mkdtempSync(path.join(os.tmpdir(), 'wm-kube-')), 'config');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: loopback, cluster: {server: "${url}"}}]
users: [{name: tester, user: {token: loopback}}]
contexts: [{name: loopback, context: {cluster: loopback, user: tester, namespace: default}}]
current-context: loopback
`,
  );
  const server: KubeServer = {
    url,
    kubeconfig,
    jobs,
    created,
    problems,
    onCreate: null,
    settle: async () => {
      await Promise.all([...jobs.values()].map((j) => j.done));
    },
    close: () => listening.close(),
  };
  return server;
}
