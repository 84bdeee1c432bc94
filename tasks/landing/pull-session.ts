/**
 * The repository a pull-request landing talks to: its Octokit client, owner and name, and the token's origin for
 * messages. Every request goes through `call`, which turns a refusal into the product's typed error naming the
 * permission that request needs.
 */
import { apiBaseOf, repoOfRemoteUrl } from '../backlog/github-urls.ts';
import {
  createGithubClient,
  githubFailure,
  resolveToken,
  type GithubClient,
  type GithubPermission,
  type GithubToken,
} from '../backlog/github-client.ts';
import type { Ctx } from '../engine/context.ts';
import { BadInputError, InterruptedError, WorkMilestoneError } from '../lib/errors.ts';
import { gitRaw } from '../lib/git.ts';

/** A repository on GitHub and the client that talks to it. */
export interface PullSession {
  readonly client: GithubClient;
  readonly owner: string;
  readonly repo: string;
  readonly token: GithubToken;
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
  return { client: createGithubClient(token.token, apiBaseOf(ctx.env), ctx.env), owner, repo, token };
}

/** `fn`, its failure as the product's error naming `action` and the `permission` it needs. */
export async function call<T>(
  s: PullSession,
  action: string,
  permission: GithubPermission,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof WorkMilestoneError) throw error;
    throw githubFailure(error, { repo: `${s.owner}/${s.repo}`, action, token: s.token, permission });
  }
}

/** Whether `error` is GitHub's 403 or 404: a setting the token may not read. */
export function isUnreadable(error: unknown): boolean {
  const status = typeof error === 'object' && error !== null ? (error as { status?: unknown }).status : undefined;
  return status === 403 || status === 404;
}

/** The first poll interval: `WM_CHECKS_POLL_MS` (tests), else 5 s. */
export function firstPoll(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.WM_CHECKS_POLL_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : FIRST_POLL_MS;
}

/** The first wait between polls of GitHub, and the longest (the wait doubles up to it). */
const FIRST_POLL_MS = 5_000;
export const MAX_POLL_MS = 60_000;

/** Wait `ms`, or until `signal` aborts (an InterruptedError). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError('interrupted while waiting for GitHub'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new InterruptedError('interrupted while waiting for GitHub'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
