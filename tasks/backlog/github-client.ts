/**
 * The GitHub REST client of the GitHub backlog (docs/github.md): Octokit with the retry and throttling plugins, the
 * token and API base from the environment, and GitHub's refusals turned into the product's typed errors.
 */
import { execFile } from 'node:child_process';
import { Octokit } from '@octokit/rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { BadInputError, StepFailedError } from '../lib/errors.ts';

/** The Octokit the backlog talks through. */
export type GithubClient = InstanceType<typeof GitHub>;

const GitHub = Octokit.plugin(retry, throttling);

/** Rate-limited requests are retried this many times before the run fails (each waits what GitHub asks). */
const RATE_LIMIT_RETRIES = 4;

/** Where the token came from, for messages. */
export interface GithubToken {
  readonly token: string;
  readonly from: 'GH_TOKEN' | 'GITHUB_TOKEN' | 'gh auth token';
}

/** `GH_TOKEN`, else `GITHUB_TOKEN`, else `gh auth token` when `gh` is installed; a BadInputError when none. */
export async function resolveToken(env: NodeJS.ProcessEnv): Promise<GithubToken> {
  for (const name of ['GH_TOKEN', 'GITHUB_TOKEN'] as const) {
    const value = env[name]?.trim();
    if (value) return { token: value, from: name };
  }
  const fromGh = await new Promise<string>((resolve) =>
    execFile('gh', ['auth', 'token'], { env, timeout: 10_000 }, (error, stdout) => resolve(error ? '' : stdout.trim())),
  );
  if (fromGh) return { token: fromGh, from: 'gh auth token' };
  throw new BadInputError(
    'no GitHub token for the GitHub backlog: set GH_TOKEN (or GITHUB_TOKEN) to a token with the "repo" scope ' +
      '(fine-grained: Issues read and write on the repository), or log in with `gh auth login`',
  );
}

/**
 * Octokit paces writes (one at a time, 1 s apart; 3 s for those that notify people), as GitHub advises against its
 * secondary rate limits. `WM_GITHUB_WRITE_GAP_MS=0` turns that off, for a GitHub that has no such limits (the tests'
 * loopback server); reads and rate-limit handling stay as they are.
 */
function writePacing(env: NodeJS.ProcessEnv): object {
  if (env.WM_GITHUB_WRITE_GAP_MS !== '0') return {};
  // The plugin only calls `<group>.key(id).schedule(options, task)` on these; this one runs the task at once.
  const unpaced = {
    key: () => ({
      schedule: (_options: unknown, task: (...args: unknown[]) => unknown, ...args: unknown[]) => task(...args),
    }),
  };
  return { write: unpaced, notifications: unpaced };
}

/** A client for `token` at `baseUrl`: 5xx retried with backoff, primary and secondary rate limits waited out. */
export function createGithubClient(token: string, baseUrl: string, env: NodeJS.ProcessEnv = process.env): GithubClient {
  return new GitHub({
    auth: token,
    baseUrl,
    userAgent: 'work-milestone',
    // Octokit logs retries and deprecations to the console; the runner reports through its own events instead.
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    // The plugin retries every 4xx but these (1 s, 4 s, 9 s later); 405 (not mergeable) and 409 (a conflict, e.g. a
    // head that moved) are answers, not hiccups: asking again only adds 14 s.
    retry: { doNotRetry: [400, 401, 403, 404, 405, 409, 410, 422, 451] },
    throttle: {
      ...writePacing(env),
      onRateLimit: (_after: number, _options: unknown, _octokit: unknown, count: number) => count < RATE_LIMIT_RETRIES,
      onSecondaryRateLimit: (_after: number, _options: unknown, _octokit: unknown, count: number) =>
        count < RATE_LIMIT_RETRIES,
    },
  });
}

/** The fine-grained permission a request needs (what a 403 names). */
export type GithubPermission = 'issues' | 'pull requests' | 'checks' | 'commit statuses' | 'contents' | 'metadata';

/** What each permission has to be for the requests that need it. */
const PERMISSION_TEXT: Readonly<Record<GithubPermission, string>> = {
  issues: 'Issues read and write',
  'pull requests': 'Pull requests read and write',
  checks: 'Checks read',
  'commit statuses': 'Commit statuses read',
  contents: 'Contents read and write',
  metadata: 'Metadata read',
};

/** What a failed request was doing, for messages. */
export interface RequestWhat {
  readonly repo: string;
  readonly action: string;
  readonly token: GithubToken;
  /** The permission the request needs; issues when not said. */
  readonly permission?: GithubPermission;
}

/**
 * A request error as the product's error: 401 names the token, 403 the scope, 404 the repository (exit 2); rate
 * limits that outlasted the retries and 5xx are failed steps (exit 1).
 */
export function githubFailure(error: unknown, what: RequestWhat): Error {
  const status = typeof error === 'object' && error !== null ? (error as { status?: unknown }).status : undefined;
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  const doing = `${what.action} on ${what.repo}`;
  if (status === 401)
    return new BadInputError(
      `GitHub refused the token from ${what.token.from} (401 Bad credentials) while trying to ${doing}: ` +
        `set ${what.token.from === 'gh auth token' ? 'GH_TOKEN or log in again with `gh auth login`' : what.token.from} to a valid token`,
      { cause: error },
    );
  if (status === 403 && !/rate limit/i.test(message))
    return new BadInputError(
      `GitHub refused to ${doing} (403: ${message}): the token from ${what.token.from} needs the "repo" scope ` +
        `(fine-grained tokens: ${PERMISSION_TEXT[what.permission ?? 'issues']}, Metadata read) and access to the ` +
        'repository',
      { cause: error },
    );
  if (status === 404)
    return new BadInputError(
      `GitHub found nothing to ${doing} (404): check backlog.repo (${what.repo}) and that the token from ` +
        `${what.token.from} can see the repository (private repositories need the "repo" scope)`,
      { cause: error },
    );
  if (status === 422)
    return new StepFailedError(`GitHub rejected a request to ${doing} (422: ${message})`, { cause: error });
  return new StepFailedError(
    `GitHub request to ${doing} failed${typeof status === 'number' ? ` (${status})` : ''} after retries: ${message}`,
    { cause: error },
  );
}

/** Whether `error` is GitHub's 404. */
export function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 404;
}
