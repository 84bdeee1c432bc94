/** What a remote agent run produced, the same way for every remote executor: its result file and its pushed branch. */
import path from 'node:path';
import { adapterFor } from '../../agents/adapters.ts';
import type { AgentKind } from '../../lib/plan/types.ts';
import { noResult } from '../no-result.ts';
import type { AgentRunResult, AgentStatus } from '../types.ts';
import type { JobResult } from './job-spec.ts';
import { fetchItemBranch } from './remote-branch.ts';

/** Where a remote run happened, in the words of its executor. */
export interface RemoteRun {
  readonly agent: AgentKind;
  /** `the run <url>`, `the Job <name>`. */
  readonly what: string;
  /** Who pushes the item branch: `the job`, `the pod`. */
  readonly pusher: string;
  readonly worktree: string;
  readonly remote: string;
  readonly branch: string;
  /** The local copy of its stdout (for the adapter's bounded reads). */
  readonly stdoutFile: string;
}

/** Collect a remote run in `status`: its result parsed by the agent's adapter, its branch fetched into the worktree. */
export async function collectRemoteRun(
  status: AgentStatus,
  run: RemoteRun,
  readResult: () => Promise<JobResult | null>,
): Promise<AgentRunResult> {
  switch (status.state) {
    case 'succeeded':
    case 'failed': {
      const exitCode = status.state === 'succeeded' ? 0 : status.exitCode;
      const result = await readResult();
      if (!result) return { exitCode, outcome: noResult(`${run.what} ended without a result`) };
      const fetched = await fetchItemBranch(run.worktree, run.remote, run.branch);
      const outcome = adapterFor(run.agent).parse({
        stdout: result.stdout,
        stderr: result.stderr,
        exitCode,
        stdoutFile: run.stdoutFile,
      });
      if (!fetched || result.pushed === null)
        return {
          exitCode,
          outcome: {
            ...outcome,
            ok: false,
            failure: `${run.pusher} could not push ${run.branch}: ${result.pushError ?? 'no branch on the remote'}`,
          },
        };
      return { exitCode, outcome };
    }
    case 'cancelled':
      return { exitCode: null, outcome: noResult('the agent was stopped') };
    case 'lost':
      return { exitCode: null, outcome: noResult(`${run.what} is gone without a result (${status.reason})`) };
    case 'queued':
    case 'running':
      return { exitCode: null, outcome: noResult('internal: collected while it still runs') };
  }
}

/** The files a remote run keeps on this machine: the downloaded result, local copies of its output, a cancel marker. */
export function remoteRunFiles(handle: { readonly dir: string; readonly name: string }): {
  readonly result: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly cancelled: string;
} {
  const base = path.join(handle.dir, handle.name);
  return {
    result: `${base}.result.json`,
    stdout: `${base}.stdout`,
    stderr: `${base}.stderr`,
    cancelled: `${base}.cancelled`,
  };
}
