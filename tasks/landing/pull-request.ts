/**
 * The GitHub side of `land: pull-request` (docs/github.md): the pull request of the integration branch into main
 * (found by its head branch, opened once), its checks waited for, and its merge with a merge commit through the API,
 * pinned to the head sha so a head that moved is refused.
 */
import {
  apiBaseOf,
  createGithubClient,
  githubFailure,
  repoOfRemoteUrl,
  resolveToken,
  type GithubClient,
  type GithubToken,
} from '../backlog/github-client.ts';
import type { Ctx } from '../engine/context.ts';
import type { Progress } from '../engine/step.ts';
import { oneLine } from '../lib/bounded-text.ts';
import { BadInputError, InterruptedError, NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { gitRaw } from '../lib/git.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';

/** GitHub refuses pull request bodies longer than this. */
const MAX_BODY = 65_000;
/** The first wait between polls of the checks, and the longest (the wait doubles up to it). */
const FIRST_POLL_MS = 5_000;
const MAX_POLL_MS = 60_000;

/** A repository on GitHub and the client that talks to it. */
export interface PullSession {
  readonly client: GithubClient;
  readonly owner: string;
  readonly repo: string;
  readonly token: GithubToken;
}

/** A pull request of the integration branch (the fields used here). */
export interface Pull {
  readonly number: number;
  readonly url: string;
  readonly state: 'open' | 'closed';
  readonly mergeCommit: string | null;
  readonly merged: boolean;
}

/** The repository: the GitHub backlog's, else origin's URL. */
export async function openPullSession(ctx: Ctx): Promise<PullSession> {
  let full = ctx.plan.backlog.kind === 'github' ? ctx.plan.backlog.repo : null;
  if (!full) {
    const url = await gitRaw(ctx.repo, ['remote', 'get-url', 'origin']);
    full = url.exitCode === 0 ? (repoOfRemoteUrl(url.stdout.trim()) ?? null) : null;
    if (!full)
      throw new BadInputError(
        `land: pull-request needs a GitHub repository, and origin's URL (${url.stdout.trim() || 'no origin'}) is ` +
          'not one; set backlog: {kind: github, repo: owner/name} in the plan, or land directly (land: direct)',
      );
  }
  const [owner = '', repo = ''] = full.split('/');
  const token = await resolveToken(ctx.env);
  return { client: createGithubClient(token.token, apiBaseOf(ctx.env)), owner, repo, token };
}

async function call<T>(s: PullSession, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw githubFailure(error, { repo: `${s.owner}/${s.repo}`, action, token: s.token });
  }
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
  const list = await call(s, `list the pull requests of ${branch}`, () =>
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
    await call(s, `update pull request #${open.number}`, () =>
      s.client.rest.pulls.update({ owner: s.owner, repo: s.repo, pull_number: open.number, body: text }),
    );
    return open;
  }
  const title = `Milestone ${ctx.plan.milestone.id}: ${oneLine(ctx.plan.milestone.title)}`;
  const { data } = await call(s, `open a pull request from ${branch}`, () =>
    s.client.rest.pulls.create({ owner: s.owner, repo: s.repo, head: branch, base: MAIN_BRANCH, title, body: text }),
  );
  return pullOf(data as RawPull);
}

/** A check run as GitHub lists it (the fields used here). */
interface CheckRun {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly conclusion: string | null;
}

/** The latest run of each check on `sha`. */
async function checksOf(s: PullSession, sha: string): Promise<readonly CheckRun[]> {
  const runs = (await call(s, `list the check runs of ${sha.slice(0, 10)}`, () =>
    s.client.paginate(s.client.rest.checks.listForRef, { owner: s.owner, repo: s.repo, ref: sha, per_page: 100 }),
  )) as CheckRun[];
  const latest = new Map<string, CheckRun>();
  for (const run of runs) if ((latest.get(run.name)?.id ?? -1) < run.id) latest.set(run.name, run);
  return [...latest.values()];
}

const PASSED = new Set(['success', 'neutral', 'skipped']);

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
    throw githubFailure(error, { repo: `${s.owner}/${s.repo}`, action: `merge ${pull.url}`, token: s.token });
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError('interrupted while waiting for checks'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError('interrupted while waiting for checks'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The first poll interval: `WM_CHECKS_POLL_MS` (tests), else 5 s. */
function firstPoll(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.WM_CHECKS_POLL_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : FIRST_POLL_MS;
}

/**
 * Wait for the checks of `head` and merge the pull request with a merge commit, pinned to `head`. While a check runs
 * or a required one has not reported, the merge waits (polls every 5 s, doubling to 60 s); a required check that
 * failed stops with exit 3 naming it and the pull request (`run` again waits again). Returns the merge commit, or
 * null when `baseInHead` says origin's main moved past what `head` contains (nothing merged: gate again first).
 */
export async function mergeWhenGreen(
  ctx: Ctx,
  s: PullSession,
  pull: Pull,
  head: string,
  progress: Progress,
  baseInHead: () => Promise<boolean>,
): Promise<string | null> {
  let interval = firstPoll(ctx.env);
  let said = '';
  for (;;) {
    const runs = await checksOf(s, head);
    const running = runs.filter((r) => r.status !== 'completed').map((r) => r.name);
    let waitingFor = running;
    if (running.length === 0) {
      // GitHub would merge a main it moved to, untested here: the landed tree must be the gated one.
      if (!(await baseInHead())) return null;
      const answer = await tryMerge(s, pull, head);
      if (answer.kind === 'merged') return answer.sha;
      if (answer.status === 409)
        throw new StepFailedError(
          `GitHub refused to merge ${pull.url}: its head moved from ${head.slice(0, 10)} (${answer.message}); ` +
            `someone pushed to ${ctx.plan.milestone.integrationBranch}; nothing was landed`,
        );
      const check = /status check "([^"]+)"/i.exec(answer.message)?.[1];
      if (!check)
        throw new NeedsAttentionError(
          `GitHub will not merge ${pull.url} yet: ${answer.message}; see to it there, then run again to land`,
        );
      const run = runs.find((r) => r.name === check);
      if (run && !PASSED.has(run.conclusion ?? ''))
        throw new NeedsAttentionError(
          `required check "${check}" failed (${run.conclusion ?? 'no conclusion'}) on ${pull.url}; nothing was ` +
            'landed; fix it (or re-run the check), then run again: landing waits for the checks again',
        );
      waitingFor = [check];
    }
    const line = `waiting for ${waitingFor.map((n) => `"${n}"`).join(', ')} on ${pull.url}`;
    if (line !== said) progress.output((said = line));
    await pause(interval, ctx.signal);
    interval = Math.min(interval * 2, MAX_POLL_MS);
  }
}
