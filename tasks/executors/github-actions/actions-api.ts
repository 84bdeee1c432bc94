/**
 * The GitHub Actions REST calls the executor makes (dispatch, find / get a run, its result artifact, cancel), through
 * the backlog's Octokit client (retries, rate limits). Only what the executor reads of a run is returned.
 */
import { unzipSync } from 'fflate';
import { createGithubClient, githubFailure, resolveToken } from '../../backlog/github-client.ts';
import { apiBaseOf } from '../../backlog/github-urls.ts';
import type { GithubActionsHandle } from '../../lib/agent-handle.ts';
import { BadInputError } from '../../lib/errors.ts';
import { artifactNameOf, RESULT_FILE, runNameOf, type JobResult } from '../remote/job-spec.ts';

/** A workflow run as the executor sees it. */
export interface RunView {
  readonly id: number;
  readonly url: string;
  readonly status: string;
  readonly conclusion: string | null;
  readonly startedAt: string | null;
  readonly createdAt: string;
}

/** One repository's Actions, with the token from the environment. */
export interface ActionsApi {
  /** Dispatch; the run when GitHub says which (`return_run_details`), else null. */
  dispatch(workflow: string, ref: string, inputs: Readonly<Record<string, string>>): Promise<RunView | null>;
  /** The newest run of `workflow` whose run-name holds `id`, created at or after `since` (ISO), or null. */
  findRun(workflow: string, id: string, since: string): Promise<RunView | null>;
  getRun(runId: number): Promise<RunView | null>;
  /** The `result.json` of run `runId`'s artifact for `id`, or null when it has none (yet). */
  readResult(runId: number, id: string): Promise<JobResult | null>;
  /** Cancel; false when GitHub says it cannot be (it has completed). */
  cancel(runId: number): Promise<boolean>;
}

/** The API of the handle's repository. */
export async function actionsApiOf(
  handle: Pick<GithubActionsHandle, 'repo' | 'apiUrl'>,
  env: NodeJS.ProcessEnv,
): Promise<ActionsApi> {
  const token = await resolveToken(env).catch((cause: unknown) => {
    throw new BadInputError(
      'no GitHub token for the github-actions executor: set GH_TOKEN (or GITHUB_TOKEN) to a token with Actions and ' +
        'Contents read and write on the repository, or log in with `gh auth login`',
      { cause },
    );
  });
  const client = createGithubClient(token.token, handle.apiUrl || apiBaseOf(env), env);
  const [owner = '', repo = ''] = handle.repo.split('/');
  const failed = (action: string) => (error: unknown) => {
    throw githubFailure(error, { repo: handle.repo, action, token });
  };
  const status = (error: unknown) => (error as { status?: unknown }).status;
  const viewOf = (run: {
    id: number;
    html_url: string;
    status: string | null;
    conclusion: string | null;
    run_started_at?: string;
    created_at: string;
  }): RunView => ({
    id: run.id,
    url: run.html_url,
    status: run.status ?? 'queued',
    conclusion: run.conclusion,
    startedAt: run.run_started_at ?? null,
    createdAt: run.created_at,
  });
  return {
    async dispatch(workflow, ref, inputs) {
      const response = await client
        .request('POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches', {
          owner,
          repo,
          workflow_id: workflow,
          ref,
          inputs,
          return_run_details: true,
        } as never)
        .catch((error: unknown) => {
          // No such workflow on that ref, or one that takes other inputs: the file init-workflow writes is missing.
          if (status(error) === 404 || status(error) === 422)
            throw new BadInputError(
              `GitHub cannot dispatch ${workflow} on ${ref} of ${handle.repo} (${status(error)}: ` +
                `${(error as Error).message.split('\n')[0]}): run \`npx work-milestone init-workflow\`, commit and push ` +
                `it to ${ref} (or set executor.workflow / executor.ref)`,
              { cause: error },
            );
          return failed(`dispatch the workflow ${workflow}`)(error);
        });
      const data = (response as { data?: { workflow_run_id?: number; html_url?: string } }).data;
      if (!data?.workflow_run_id || !data.html_url) return null;
      return {
        id: data.workflow_run_id,
        url: data.html_url,
        status: 'queued',
        conclusion: null,
        startedAt: null,
        createdAt: new Date().toISOString(),
      };
    },
    async findRun(workflow, id, since) {
      const { data } = await client.rest.actions
        .listWorkflowRuns({ owner, repo, workflow_id: workflow, event: 'workflow_dispatch', per_page: 100 })
        .catch(failed(`list the runs of ${workflow}`));
      const name = runNameOf(id);
      // A second's slack: GitHub's clock and ours.
      const from = Date.parse(since) - 60_000;
      const found = data.workflow_runs
        .filter((r) => r.display_title === name && Date.parse(r.created_at) >= from)
        .sort((a, b) => b.id - a.id)[0];
      return found ? viewOf(found) : null;
    },
    async getRun(runId) {
      try {
        return viewOf((await client.rest.actions.getWorkflowRun({ owner, repo, run_id: runId })).data);
      } catch (error) {
        if (status(error) === 404) return null;
        return failed(`read the workflow run ${runId}`)(error);
      }
    },
    async readResult(runId, id) {
      const { data } = await client.rest.actions
        .listWorkflowRunArtifacts({ owner, repo, run_id: runId, name: artifactNameOf(id) })
        .catch(failed(`list the artifacts of run ${runId}`));
      const artifact = data.artifacts.find((a) => a.name === artifactNameOf(id) && !a.expired);
      if (!artifact) return null;
      const zip = await client.rest.actions
        .downloadArtifact({ owner, repo, artifact_id: artifact.id, archive_format: 'zip' })
        .catch(failed(`download the artifact ${artifact.name}`));
      const files = unzipSync(new Uint8Array(zip.data as ArrayBuffer));
      const file = files[RESULT_FILE];
      if (!file) return null;
      return JSON.parse(Buffer.from(file).toString('utf8')) as JobResult;
    },
    async cancel(runId) {
      try {
        await client.rest.actions.cancelWorkflowRun({ owner, repo, run_id: runId });
        return true;
      } catch (error) {
        if (status(error) === 409) return false;
        return failed(`cancel the workflow run ${runId}`)(error);
      }
    },
  };
}
