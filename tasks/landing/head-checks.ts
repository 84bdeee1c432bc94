/**
 * The checks of a pull request's head: check runs (the Checks API) and legacy commit statuses (the Statuses API),
 * one entry per name, the latest of each; and what they say for the merge, given the required names when known.
 */
import { call, type PullSession } from './pull-session.ts';

/** One check of a head sha, a check run or a commit status. */
export interface HeadCheck {
  readonly name: string;
  readonly kind: 'check run' | 'status';
  readonly state: 'pending' | 'passed' | 'failed';
  /** GitHub's word for it: a check run's conclusion or status, a commit status's state. */
  readonly said: string;
}

/** A check run as GitHub lists it (the fields used here). */
interface CheckRun {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly conclusion: string | null;
}

const PASSED = new Set(['success', 'neutral', 'skipped']);

/** The latest check run of each name and every commit status context of `sha`. */
export async function headChecksOf(s: PullSession, sha: string): Promise<readonly HeadCheck[]> {
  const short = sha.slice(0, 10);
  const runs = (await call(s, `list the check runs of ${short}`, 'checks', () =>
    s.client.paginate(s.client.rest.checks.listForRef, { owner: s.owner, repo: s.repo, ref: sha, per_page: 100 }),
  )) as CheckRun[];
  const latest = new Map<string, CheckRun>();
  for (const run of runs) if ((latest.get(run.name)?.id ?? -1) < run.id) latest.set(run.name, run);
  const checks: HeadCheck[] = [...latest.values()].map((r) => ({
    name: r.name,
    kind: 'check run',
    state: r.status !== 'completed' ? 'pending' : PASSED.has(r.conclusion ?? '') ? 'passed' : 'failed',
    said: r.status !== 'completed' ? r.status : (r.conclusion ?? 'no conclusion'),
  }));
  // The combined status holds the latest status of each context already.
  const { data } = await call(s, `read the commit statuses of ${short}`, 'commit statuses', () =>
    s.client.rest.repos.getCombinedStatusForRef({ owner: s.owner, repo: s.repo, ref: sha, per_page: 100 }),
  );
  for (const status of data.statuses)
    if (!latest.has(status.context))
      checks.push({
        name: status.context,
        kind: 'status',
        state: status.state === 'pending' ? 'pending' : status.state === 'success' ? 'passed' : 'failed',
        said: status.state,
      });
  return checks;
}

/** What the checks say: those still pending (a required one not reported yet among them) and those that failed. */
export interface ChecksVerdict {
  readonly pending: readonly string[];
  readonly failed: readonly HeadCheck[];
}

/**
 * Judge `checks` against the `required` names (from the branch's protection or rules), or against every check of
 * the head when the required ones are not known.
 */
export function judgeChecks(checks: readonly HeadCheck[], required: readonly string[] | null): ChecksVerdict {
  const relevant = required ? checks.filter((c) => required.includes(c.name)) : checks;
  const missing = (required ?? []).filter((name) => !checks.some((c) => c.name === name));
  return {
    pending: [...relevant.filter((c) => c.state === 'pending').map((c) => c.name), ...missing],
    failed: relevant.filter((c) => c.state === 'failed'),
  };
}
