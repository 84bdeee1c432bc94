/**
 * The GitHub side of `land: pull-request` (docs/github.md): the pull request of the integration branch into main
 * (found by its head branch, opened once), its checks (check runs and commit statuses) waited for, and its merge
 * with a merge commit through the REST API, pinned to the head sha so a head that moved is refused; or, when main
 * requires it, through the merge queue or auto-merge (github-merge.ts).
 */
import { githubFailure } from '../backlog/github-client.ts';
import type { Ctx } from '../engine/context.ts';
import type { Progress } from '../engine/step.ts';
import { oneLine } from '../lib/bounded-text.ts';
import { NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { askGithubToMerge, pullMergeStateOf, waitForGithubMerge, type GithubMerge } from './github-merge.ts';
import { headChecksOf, judgeChecks } from './head-checks.ts';
import { mergeRulesOf } from './merge-rules.ts';
import { call, firstPoll, MAX_POLL_MS, pause, type PullSession } from './pull-session.ts';

export { openPullSession, type PullSession } from './pull-session.ts';

/** GitHub refuses pull request bodies longer than this. */
const MAX_BODY = 65_000;

/** A pull request of the integration branch (the fields used here). */
export interface Pull {
  readonly number: number;
  readonly url: string;
  readonly state: 'open' | 'closed';
  readonly mergeCommit: string | null;
  readonly merged: boolean;
}

interface RawPull {
  readonly number: number;
  readonly html_url: string;
  readonly state: string;
  readonly merge_commit_sha: string | null;
  readonly merged_at: string | null;
}

const pullOf = (p: RawPull): Pull => ({
  number: p.number,
  url: p.html_url,
  state: p.state === 'open' ? 'open' : 'closed',
  mergeCommit: p.merge_commit_sha,
  merged: p.merged_at != null,
});

/** Pull requests from the integration branch into main, newest first. */
export async function pullsOfBranch(s: PullSession, branch: string): Promise<readonly Pull[]> {
  const list = await call(s, `list the pull requests of ${branch}`, 'pull requests', () =>
    s.client.paginate(s.client.rest.pulls.list, {
      owner: s.owner,
      repo: s.repo,
      state: 'all',
      head: `${s.owner}:${branch}`,
      base: MAIN_BRANCH,
      per_page: 100,
    }),
  );
  return (list as RawPull[]).map(pullOf).sort((a, b) => b.number - a.number);
}

/** The open pull request of the branch with `body` (updated when reused), or a new one. */
export async function openPull(ctx: Ctx, s: PullSession, body: string): Promise<Pull> {
  const branch = ctx.plan.milestone.integrationBranch;
  const text = body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}\n\n…(cut)` : body;
  const open = (await pullsOfBranch(s, branch)).find((p) => p.state === 'open');
  if (open) {
    await call(s, `update pull request #${open.number}`, 'pull requests', () =>
      s.client.rest.pulls.update({ owner: s.owner, repo: s.repo, pull_number: open.number, body: text }),
    );
    return open;
  }
  const title = `Milestone ${ctx.plan.milestone.id}: ${oneLine(ctx.plan.milestone.title)}`;
  const { data } = await call(s, `open a pull request from ${branch}`, 'pull requests', () =>
    s.client.rest.pulls.create({ owner: s.owner, repo: s.repo, head: branch, base: MAIN_BRANCH, title, body: text }),
  );
  return pullOf(data as RawPull);
}

/** What one merge attempt got. */
type MergeAnswer =
  | { readonly kind: 'merged'; readonly sha: string }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string };

async function tryMerge(s: PullSession, pull: Pull, head: string): Promise<MergeAnswer> {
  try {
    const { data } = await s.client.rest.pulls.merge({
      owner: s.owner,
      repo: s.repo,
      pull_number: pull.number,
      merge_method: 'merge',
      sha: head,
      // A refusal (405, 409) is an answer, not a fault to retry: the checks are polled instead.
      request: { retries: 0 },
    });
    return { kind: 'merged', sha: data.sha };
  } catch (error) {
    const status = (error as { status?: unknown }).status;
    if (status === 405 || status === 409) {
      const data = (error as { response?: { data?: { message?: unknown } } }).response?.data;
      return { kind: 'refused', status, message: String(data?.message ?? (error as Error).message) };
    }
    throw githubFailure(error, {
      repo: `${s.owner}/${s.repo}`,
      action: `merge ${pull.url}`,
      token: s.token,
      permission: 'contents',
    });
  }
}

/** GitHub's refusal of a REST merge into a branch that requires its merge queue. */
const MERGE_QUEUE_REFUSAL = /merge queue/i;

/**
 * Wait for the checks of `head` and merge the pull request with a merge commit, pinned to `head`. While a check runs
 * or a required one has not reported, the merge waits (polls every 5 s, doubling to 60 s); a required check that
 * failed stops with exit 3 naming it and the pull request (`run` again waits again). When main requires its merge
 * queue the pull request is enqueued instead, and when checks are pending and the repository allows auto-merge,
 * auto-merge is enabled; then GitHub's merge is waited for. Returns the merge commit, or null when `baseInHead` says
 * origin's main moved past what `head` contains (nothing merged: gate again first).
 */
export async function mergeWhenGreen(
  ctx: Ctx,
  s: PullSession,
  pull: Pull,
  head: string,
  progress: Progress,
  baseInHead: () => Promise<boolean>,
): Promise<string | null> {
  const rules = await mergeRulesOf(s);
  let queue = rules.queue;
  let interval = firstPoll(ctx.env);
  let said = '';
  const githubMerges = async (how: GithubMerge): Promise<string | null> => {
    // Read first: a run killed after enqueuing (or enabling auto-merge) waits for it instead of asking twice.
    const state = await pullMergeStateOf(s, pull.number);
    if (state.state === 'MERGED' && state.mergeCommit) return state.mergeCommit;
    const asked = how === 'queue' ? state.queuePosition !== null : state.autoMerge;
    if (!asked) {
      await askGithubToMerge(s, how, state.id, pull.url, head);
      progress.output(how === 'queue' ? `added ${pull.url} to the merge queue` : `enabled auto-merge of ${pull.url}`);
    }
    const wait = { how, number: pull.number, url: pull.url, head, required: rules.required, baseInHead };
    return waitForGithubMerge(ctx, s, wait, progress);
  };
  for (;;) {
    if (queue) return githubMerges('queue');
    const checks = await headChecksOf(s, head);
    const verdict = judgeChecks(checks, rules.required);
    const failed = rules.required ? verdict.failed[0] : undefined;
    if (failed)
      throw new NeedsAttentionError(
        `required check "${failed.name}" failed (${failed.said}) on ${pull.url}; nothing was landed; fix it (or ` +
          're-run the check), then run again: landing waits for the checks again',
      );
    let waitingFor = verdict.pending;
    if (waitingFor.length === 0) {
      // GitHub would merge a main it moved to, untested here: the landed tree must be the gated one.
      if (!(await baseInHead())) return null;
      const answer = await tryMerge(s, pull, head);
      if (answer.kind === 'merged') return answer.sha;
      if (answer.status === 409)
        throw new StepFailedError(
          `GitHub refused to merge ${pull.url}: its head moved from ${head.slice(0, 10)} (${answer.message}); ` +
            `someone pushed to ${ctx.plan.milestone.integrationBranch}; nothing was landed`,
        );
      if (MERGE_QUEUE_REFUSAL.test(answer.message)) {
        queue = true;
        continue;
      }
      const check = /status check "([^"]+)"/i.exec(answer.message)?.[1];
      if (!check)
        throw new NeedsAttentionError(
          `GitHub will not merge ${pull.url} yet: ${answer.message}; see to it there, then run again to land`,
        );
      const run = checks.find((r) => r.name === check);
      if (run?.state === 'failed')
        throw new NeedsAttentionError(
          `required check "${check}" failed (${run.said}) on ${pull.url}; nothing was ` +
            'landed; fix it (or re-run the check), then run again: landing waits for the checks again',
        );
      waitingFor = [check];
    }
    // Checks are pending: GitHub merges by itself once they pass, when the repository allows it.
    if (rules.autoMerge) {
      if (!(await baseInHead())) return null;
      return githubMerges('auto-merge');
    }
    const line = `waiting for ${waitingFor.map((n) => `"${n}"`).join(', ')} on ${pull.url}`;
    if (line !== said) progress.output((said = line));
    await pause(interval, ctx.signal);
    interval = Math.min(interval * 2, MAX_POLL_MS);
  }
}
