/**
 * A remote job's push credentials, kept from its agent. actions/checkout leaves the job's token in the checkout's
 * config (`http.<url>.extraheader`), and a clone URL may hold a user and token: an agent's plain `git push` (a
 * habit of coding agents) would then push anything, `main` included, past every gate. `agent-job` takes both out
 * of the checkout before the agent starts and gives them only to its own pushes, after the agent's process group is
 * gone (docs/executors.md, "What the agent can push").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
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

/** Extra headers of any URL (`http.extraheader`, `http.<url>.extraheader`). */
const EXTRA_HEADER = '^http\\.(.+\\.)?extraheader$';

/** `key value` lines of `git config --get-regexp`, as pairs. */
function configEntries(text: string): Array<readonly [string, string]> {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(' ');
      return space < 0 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
    });
}

/**
 * Take origin's credentials out of the checkout in `cwd` and return them for the job's pushes: the extra headers of
 * its own config and of the files it includes (actions/checkout from v6 keeps the token in a file under
 * `$RUNNER_TEMP` that an `includeIf` names), and a user and token in origin's URL.
 */
export async function withholdPushAccess(cwd: string): Promise<PushAccess> {
  const url = (await gitRaw(cwd, ['config', '--local', '--get', `remote.${ORIGIN}.url`])).stdout.trim();
  const headers = configEntries(
    (await gitRaw(cwd, ['config', '--local', '--includes', '--get-regexp', EXTRA_HEADER])).stdout,
  );
  const own = configEntries(
    (await gitRaw(cwd, ['config', '--local', '--no-includes', '--get-regexp', EXTRA_HEADER])).stdout,
  );
  for (const key of new Set(own.map(([key]) => key))) await git(cwd, ['config', '--local', '--unset-all', key]);
  if (headers.length > own.length) {
    const gitDir = path.resolve(cwd, (await git(cwd, ['rev-parse', '--git-dir'])).trim());
    const includes = configEntries(
      (await gitRaw(cwd, ['config', '--local', '--no-includes', '--get-regexp', '^include(if\\..+)?\\.path$'])).stdout,
    );
    for (const [key, file] of includes) {
      if (!/extraheader/i.test(readIfAny(path.resolve(gitDir, file)))) continue;
      await git(cwd, ['config', '--local', '--fixed-value', '--unset-all', key, file]);
    }
  }
  const bare = withoutCredentials(url);
  if (url && bare !== url) await git(cwd, ['config', '--local', `remote.${ORIGIN}.url`, bare]);
  return { url: url || ORIGIN, config: headers.flatMap(([key, value]) => ['-c', `${key}=${value}`]) };
}

function readIfAny(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** `git push` of `refspec` to origin with the withheld credentials (never forced); the whole result. */
export function pushWithAccess(cwd: string, access: PushAccess, refspec: string): Promise<GitResult> {
  return gitRaw(cwd, [...access.config, 'push', '-q', access.url, refspec]);
}
