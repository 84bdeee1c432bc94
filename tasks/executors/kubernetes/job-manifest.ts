/**
 * The `batch/v1` Job of one attempt (docs/executors.md): named after the correlation id (DNS-1123), labelled with
 * milestone and item, never retried by Kubernetes (`backoffLimit: 0`: the runner decides about attempts), bounded by
 * the item's timeout, kept a while after it ends so a runner polling finds its result. The pod clones the shared
 * remote at the base commit and runs the tool's `agent-job`, as a GitHub Actions job does; its termination message
 * is the result's short form (Kubernetes keeps 4 KiB), the whole result is the ref the job pushes.
 */
import type { ExecutorSettings } from '../../lib/plan/types.ts';

/** What one Job runs. */
export interface JobManifestInput {
  readonly id: string;
  readonly milestone: string;
  readonly issue: number;
  readonly attempt: number;
  readonly branch: string;
  readonly base: string;
  /** The URL the pod clones and pushes to. */
  readonly remoteUrl: string;
  /** The `job` input of a GitHub Actions run: the command line and prompt (job-spec.ts). */
  readonly job: string;
  readonly timeoutMs: number;
  /** How the pod runs the tool (default `npx --yes work-milestone@<version>`). */
  readonly tool: string;
  readonly settings: ExecutorSettings;
}

/** How long a finished Job stays (its result is read by then; the runner polls every few seconds). */
export const TTL_AFTER_FINISHED_S = 3600;

/** `wm-<correlation id>` as a DNS-1123 label: lower case, [a-z0-9-], at most 63 characters. */
export function jobNameOf(id: string): string {
  const name = `wm-${id}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name;
}

/** A label value: at most 63 characters of [A-Za-z0-9-_.]. */
const labelOf = (value: string) => value.replace(/[^A-Za-z0-9-_.]/g, '-').slice(0, 63);

// Runs in the pod, in its working folder: clone at the base commit, run the agent through agent-job (which leaves the
// short result as the termination message). Inputs come from the environment only.
const POD_SCRIPT = [
  'set -e',
  'git clone -q "$WM_REMOTE_URL" wm-work',
  'cd wm-work',
  'git checkout -q --detach "$WM_BASE_SHA"',
  'git config user.name work-milestone',
  'git config user.email work-milestone@users.noreply.github.com',
  '$WORK_MILESTONE agent-job ../wm-result',
].join('\n');

/** The Job as plain JSON (`kubectl apply -f -` takes it). */
export function jobManifest(input: JobManifestInput): Record<string, unknown> {
  const { settings } = input;
  const resources = {
    requests: { memory: settings.memory, ...(settings.cpu ? { cpu: settings.cpu } : {}) },
    limits: { memory: settings.memory, ...(settings.cpu ? { cpu: settings.cpu } : {}) },
  };
  const env = [
    { name: 'WM_JOB', value: input.job },
    { name: 'WM_JOB_BRANCH', value: input.branch },
    { name: 'WM_JOB_ID', value: input.id },
    { name: 'WM_BASE_SHA', value: input.base },
    { name: 'WM_REMOTE_URL', value: input.remoteUrl },
    { name: 'WORK_MILESTONE', value: input.tool },
    { name: 'WM_TERMINATION_LOG', value: '/dev/termination-log' },
  ];
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameOf(input.id),
      namespace: settings.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'work-milestone',
        'work-milestone/milestone': labelOf(input.milestone),
        'work-milestone/issue': String(input.issue),
        'work-milestone/attempt': String(input.attempt),
      },
      annotations: { 'work-milestone/correlation-id': input.id },
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(60, Math.ceil(input.timeoutMs / 1000)),
      ttlSecondsAfterFinished: TTL_AFTER_FINISHED_S,
      template: {
        metadata: { labels: { 'app.kubernetes.io/managed-by': 'work-milestone' } },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'agent',
              image: settings.image,
              command: ['sh', '-c', POD_SCRIPT],
              workingDir: '/tmp',
              env,
              ...(settings.secret ? { envFrom: [{ secretRef: { name: settings.secret } }] } : {}),
              resources,
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
            },
          ],
        },
      },
    },
  };
}
