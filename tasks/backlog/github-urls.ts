/**
 * Where GitHub is, from the environment and from a remote URL: plain functions, apart from the client (which loads
 * Octokit), so that what only needs these does not load it.
 */

/** The API base: `GITHUB_API_URL` (GitHub Enterprise Server: `https://<host>/api/v3`), else api.github.com. */
export function apiBaseOf(env: NodeJS.ProcessEnv): string {
  return (env.GITHUB_API_URL?.trim() || 'https://api.github.com').replace(/\/+$/, '');
}

/** `owner/name` of a GitHub remote URL (https, ssh, scp-like), or undefined. */
export function repoOfRemoteUrl(url: string): string | undefined {
  const match = /^(?:[a-z+]+:\/\/)?(?:[^@/]+@)?[^/:]+(?::\d+)?[:/](.+?)(?:\.git)?\/?$/i.exec(url.trim());
  const parts = match?.[1]?.split('/').filter(Boolean) ?? [];
  if (parts.length < 2) return undefined;
  const [owner, name] = parts.slice(-2);
  return owner && name && /^[\w.-]+$/.test(owner) && /^[\w.-]+$/.test(name) ? `${owner}/${name}` : undefined;
}
