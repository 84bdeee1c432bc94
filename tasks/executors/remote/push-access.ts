/**
 * A remote job's push credentials, kept from its agent. actions/checkout leaves the job's token in the checkout's
 * config (`http.<url>.extraheader`), and a clone URL may hold a user and token: an agent's plain `git push` (a
 * habit of coding agents) would then push anything, `main` included, past every gate. `agent-job` takes both out
 * of the checkout before the agent starts and gives them only to its own pushes, after the agent's process group is
 * gone (docs/executors.md, "What the agent can push").
 */
import { git, gitRaw, type GitResult } from '../../lib/git.ts';

/** The remote the checkout came from (actions/checkout and `git clone` both name it origin). */
export const ORIGIN = 'origin';

/** How the job's own git calls reach the remote once the agent has ended. */
export interface PushAccess {
  /** origin's URL as the job found it, credentials included. */
  readonly url: string;
  /** `-c key=value` pairs (the extra headers taken out of the checkout), before the git subcommand. */
  readonly config: readonly string[];
}

/** The URL without a user or password (an http(s) URL); any other form is returned as it is. */
export function withoutCredentials(url: string): string {
  if (!/^https?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Take origin's credentials out of the checkout in `cwd` (its own config: the extra headers, a user and token in
 * origin's URL) and return them for the job's pushes.
 */
export async function withholdPushAccess(cwd: string): Promise<PushAccess> {
  const url = (await gitRaw(cwd, ['config', '--local', '--get', `remote.${ORIGIN}.url`])).stdout.trim();
  const listed = await gitRaw(cwd, ['config', '--local', '--get-regexp', '^http\\.(.+\\.)?extraheader$']);
  const config: string[] = [];
  const keys = new Set<string>();
  for (const line of listed.stdout.split('\n').filter(Boolean)) {
    const space = line.indexOf(' ');
    const key = space < 0 ? line : line.slice(0, space);
    config.push('-c', `${key}=${space < 0 ? '' : line.slice(space + 1)}`);
    keys.add(key);
  }
  for (const key of keys) await git(cwd, ['config', '--local', '--unset-all', key]);
  const bare = withoutCredentials(url);
  if (url && bare !== url) await git(cwd, ['config', '--local', `remote.${ORIGIN}.url`, bare]);
  return { url: url || ORIGIN, config };
}

/** `git push` of `refspec` to origin with the withheld credentials (never forced); the whole result. */
export function pushWithAccess(cwd: string, access: PushAccess, refspec: string): Promise<GitResult> {
  return gitRaw(cwd, [...access.config, 'push', '-q', access.url, refspec]);
}
