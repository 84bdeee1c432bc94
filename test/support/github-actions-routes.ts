/**
 * GitHub Actions on the loopback GitHub server (docs/executors.md): the endpoints the `github-actions` executor uses
 * (dispatch, list and get runs, list and download artifacts, cancel), answered in GitHub's shapes and checked against
 * its OpenAPI description by the server. A dispatched run executes the workflow file the repository's bare origin
 * holds at the ref, step by step, on this machine: `actions/checkout` clones origin at its ref, `run` steps run in
 * bash with the step's environment (`${{ inputs.x }}`, `secrets`, `vars`, `runner.temp`, `a || 'b'`), and
 * `actions/upload-artifact` zips the file it names into an artifact. So the tool's real job entry command runs,
 * and pushes to origin as on GitHub. `runs` counts what was dispatched.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import YAML from 'yaml';
import { openApiCheck, type Operation } from './openapi-check.ts';

/** One workflow run as the server holds it. */
export interface ServerRun {
  readonly id: number;
  readonly workflow: string;
  readonly ref: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly displayTitle: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: 'success' | 'failure' | 'cancelled' | null;
  readonly createdAt: string;
  startedAt: string | null;
  /** The step's process while one runs (cancel ends its group). */
  child: ChildProcess | null;
  /** Resolves once the run has completed. */
  done: Promise<void>;
  /** What the run's steps printed (for a test's failure message). */
  log: string;
}

/** An artifact a run uploaded. */
export interface ServerArtifact {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  readonly zip: Uint8Array;
}

/** What the runs see. */
export interface ActionsSeed {
  /** The bare repository GitHub's copy of the repository is. */
  readonly origin: string;
  /** Repository variables (`vars.X`) and secrets (`secrets.X`). */
  readonly vars?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
}

/** An answer as the GitHub server sends it. */
export interface RouteAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** The Actions part of the server. */
export interface ActionsRoutes {
  readonly runs: ServerRun[];
  readonly artifacts: ServerArtifact[];
  /** Whether dispatch answers with the run (`return_run_details`, 200) or, like older servers, 204 only. */
  returnRunDetails: boolean;
  /** Called when a run was created, before the answer: 'drop' closes the connection without one. */
  onDispatch: ((run: ServerRun) => Promise<'answer' | 'drop'>) | null;
  /** Answer an Actions operation (undefined: not one of these). */
  handle(
    op: Operation,
    query: URLSearchParams,
    body: any,
    serverUrl: string,
  ): Promise<RouteAnswer | 'drop' | undefined>;
  /** Serve what is not GitHub's API (the artifact download a 302 points to); true when answered. */
  raw(method: string, pathname: string, res: http.ServerResponse): boolean;
  /** Wait for every run to complete (a test's cleanup). */
  settle(): Promise<void>;
}

const API = 'https://api.github.com';
const notFound = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };

/** Evaluate `${{ … }}` in `text`: context paths, string literals and `||`. */
export function evaluate(text: string, contexts: Readonly<Record<string, Readonly<Record<string, string>>>>): string {
  return text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_m, expr: string) => {
    for (const term of expr.split('||').map((t) => t.trim())) {
      const literal = /^'(.*)'$/.exec(term);
      const value = literal
        ? (literal[1] ?? '')
        : (contexts[term.split('.')[0] ?? '']?.[term.split('.').slice(1).join('.')] ?? '');
      if (value !== '') return value;
    }
    return '';
  });
}

/** The routes for `seed`'s repository `owner/name`. */
export function createActionsRoutes(repo: string, seed: ActionsSeed): ActionsRoutes {
  const check = openApiCheck();
  const runs: ServerRun[] = [];
  const artifacts: ServerArtifact[] = [];
  let nextId = 9_000_000;
  const repoUrl = `${API}/repos/${repo}`;
  const htmlOf = (run: ServerRun) => `https://github.com/${repo}/actions/runs/${run.id}`;

  const runJson = (run: ServerRun) => ({
    ...check.exampleOf('workflow-run'),
    id: run.id,
    node_id: `WFR_${run.id}`,
    name: 'work-milestone agent',
    display_title: run.displayTitle,
    head_branch: run.ref,
    head_sha: originGit(seed.origin, ['rev-parse', run.ref]),
    path: `.github/workflows/${run.workflow}`,
    run_number: run.id - 9_000_000,
    event: 'workflow_dispatch',
    status: run.status,
    conclusion: run.conclusion,
    workflow_id: 1,
    url: `${repoUrl}/actions/runs/${run.id}`,
    html_url: htmlOf(run),
    created_at: run.createdAt,
    updated_at: run.createdAt,
    run_started_at: run.startedAt ?? run.createdAt,
    pull_requests: [],
  });
  const artifactJson = (a: ServerArtifact) => ({
    ...check.exampleOf('artifact'),
    id: a.id,
    node_id: `AR_${a.id}`,
    name: a.name,
    size_in_bytes: a.zip.length,
    url: `${repoUrl}/actions/artifacts/${a.id}`,
    archive_download_url: `${repoUrl}/actions/artifacts/${a.id}/zip`,
    expired: false,
    created_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    updated_at: new Date().toISOString(),
  });

  /** Run the workflow's one job, step by step, as a hosted runner would. */
  const execute = async (run: ServerRun, workflow: any): Promise<void> => {
    const workspace = mkdtempSync(path.join(os.tmpdir(), 'wm-actions-ws-'));
    const runnerTemp = mkdtempSync(path.join(os.tmpdir(), 'wm-actions-tmp-'));
    const contexts = {
      inputs: run.inputs,
      secrets: seed.secrets ?? {},
      vars: seed.vars ?? {},
      runner: { temp: runnerTemp },
      github: { run_id: String(run.id) },
    };
    run.status = 'in_progress';
    run.startedAt = new Date().toISOString();
    let failed = false;
    const job = Object.values(workflow.jobs as Record<string, any>)[0];
    for (const step of job.steps as any[]) {
      if (run.conclusion === 'cancelled') break;
      if (failed && step.if !== 'always()') continue;
      const uses = String(step.uses ?? '');
      const withs = Object.fromEntries(
        Object.entries((step.with ?? {}) as Record<string, unknown>).map(([k, v]) => [
          k,
          evaluate(String(v), contexts),
        ]),
      );
      try {
        if (uses.startsWith('actions/checkout@')) {
          originGit(workspace, ['clone', '-q', seed.origin, '.']);
          originGit(workspace, ['checkout', '-q', '--detach', withs.ref || run.ref]);
        } else if (uses.startsWith('actions/setup-node@')) {
          // Node is on this machine.
        } else if (uses.startsWith('actions/upload-artifact@')) {
          const file = withs.path ?? '';
          if (!existsSync(file)) {
            run.log += `upload-artifact: no file ${file}\n`;
            continue;
          }
          const zip = zipSync({ [path.basename(file)]: new Uint8Array(readFileSync(file)) });
          artifacts.push({ id: nextId++, runId: run.id, name: withs.name ?? 'artifact', zip });
        } else if (step.run !== undefined) {
          const env: Record<string, string> = {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? os.homedir(),
            RUNNER_TEMP: runnerTemp,
            GITHUB_WORKSPACE: workspace,
            GITHUB_RUN_ID: String(run.id),
            CI: 'true',
          };
          for (const [k, v] of Object.entries((step.env ?? {}) as Record<string, unknown>))
            env[k] = evaluate(String(v), contexts);
          const code = await new Promise<number>((resolve) => {
            const child = spawn('bash', ['-e', '-c', String(step.run)], { cwd: workspace, env, detached: true });
            run.child = child;
            child.stdout.on('data', (d: Buffer) => void (run.log += d.toString()));
            child.stderr.on('data', (d: Buffer) => void (run.log += d.toString()));
            child.once('close', (c) => resolve(c ?? 1));
            child.once('error', () => resolve(127));
          });
          run.child = null;
          if (code !== 0) failed = true;
        }
      } catch (error) {
        run.log += `${uses || 'run'}: ${(error as Error).message}\n`;
        failed = true;
      }
    }
    if (run.conclusion !== 'cancelled') run.conclusion = failed ? 'failure' : 'success';
    run.status = 'completed';
  };

  const routes: ActionsRoutes = {
    runs,
    artifacts,
    returnRunDetails: true,
    onDispatch: null,

    async handle(op, query, body, serverUrl) {
      const runOf = () => runs.find((r) => r.id === Number(op.params.run_id));
      switch (op.operationId) {
        case 'actions/create-workflow-dispatch': {
          const file = op.params.workflow_id ?? '';
          let text: string;
          try {
            text = originGit(seed.origin, ['show', `${body.ref}:.github/workflows/${file}`]);
          } catch {
            return { status: 404, body: notFound };
          }
          const workflow = YAML.parse(text);
          const declared = (workflow.on?.workflow_dispatch?.inputs ?? {}) as Record<string, any>;
          const given = (body.inputs ?? {}) as Record<string, unknown>;
          const unexpected = Object.keys(given).filter((k) => !(k in declared));
          const missing = Object.keys(declared).filter((k) => declared[k].required && given[k] === undefined);
          if (unexpected.length || missing.length)
            return {
              status: 422,
              body: {
                message: unexpected.length
                  ? `Unexpected inputs provided: ${JSON.stringify(unexpected)}`
                  : `Required input '${missing[0]}' not provided`,
                documentation_url: 'https://docs.github.com/rest',
              },
            };
          const inputs: Record<string, string> = {};
          for (const [k, d] of Object.entries(declared))
            inputs[k] = given[k] === undefined ? String(d.default ?? '') : String(given[k]);
          const run: ServerRun = {
            id: nextId++,
            workflow: file,
            ref: String(body.ref),
            inputs,
            displayTitle: evaluate(String(workflow['run-name'] ?? workflow.name), { inputs }),
            status: 'queued',
            conclusion: null,
            createdAt: new Date().toISOString(),
            startedAt: null,
            child: null,
            done: Promise.resolve(),
            log: '',
          };
          runs.push(run);
          run.done = execute(run, workflow).catch((error: unknown) => {
            run.log += String(error);
            run.status = 'completed';
            run.conclusion = 'failure';
          });
          if (routes.onDispatch && (await routes.onDispatch(run)) === 'drop') return 'drop';
          if (body.return_run_details === true && routes.returnRunDetails)
            return {
              status: 200,
              body: {
                workflow_run_id: run.id,
                run_url: `${repoUrl}/actions/runs/${run.id}`,
                html_url: htmlOf(run),
              },
            };
          return { status: 204, body: undefined };
        }
        case 'actions/list-workflow-runs': {
          // Every run here is a workflow_dispatch one: `event=workflow_dispatch` keeps them all.
          const event = query.get('event');
          const list = runs
            .filter((r) => r.workflow === op.params.workflow_id && (event === null || event === 'workflow_dispatch'))
            .sort((a, b) => b.id - a.id)
            .slice(0, Number(query.get('per_page') ?? 30));
          return { status: 200, body: { total_count: list.length, workflow_runs: list.map(runJson) } };
        }
        case 'actions/get-workflow-run': {
          const run = runOf();
          return run ? { status: 200, body: runJson(run) } : { status: 404, body: notFound };
        }
        case 'actions/list-workflow-run-artifacts': {
          const run = runOf();
          if (!run) return { status: 404, body: notFound };
          const name = query.get('name');
          const list = artifacts.filter((a) => a.runId === run.id && (name === null || a.name === name));
          return { status: 200, body: { total_count: list.length, artifacts: list.map(artifactJson) } };
        }
        case 'actions/download-artifact': {
          const artifact = artifacts.find((a) => a.id === Number(op.params.artifact_id));
          if (!artifact) return { status: 404, body: notFound };
          return { status: 302, body: undefined, headers: { location: `${serverUrl}/_artifacts/${artifact.id}.zip` } };
        }
        case 'actions/cancel-workflow-run': {
          const run = runOf();
          if (!run) return { status: 404, body: notFound };
          if (run.status === 'completed')
            return { status: 409, body: { message: 'Cannot cancel a workflow run that is completed.' } };
          run.conclusion = 'cancelled';
          if (run.child?.pid) {
            try {
              process.kill(-run.child.pid, 'SIGTERM');
            } catch {
              // already gone
            }
          }
          if (run.status === 'queued') run.status = 'completed';
          await run.done;
          return { status: 202, body: {} };
        }
        default:
          return undefined;
      }
    },

    raw(method, pathname, res) {
      const match = /^\/_artifacts\/(\d+)\.zip$/.exec(pathname);
      if (method !== 'GET' || !match) return false;
      const artifact = artifacts.find((a) => a.id === Number(match[1]));
      if (!artifact) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/zip' }).end(Buffer.from(artifact.zip));
      return true;
    },

    async settle() {
      await Promise.all(runs.map((r) => r.done));
    },
  };
  return routes;
}

/** git in `dir`, trimmed stdout (test-only, synchronous). */
function originGit(dir: string, args: readonly string[]): string {
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
