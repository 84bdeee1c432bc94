/**
 * A milestone 7 ("Search") whose backlog is GitHub issues on the loopback GitHub server, git's origin a local bare
 * repository, `command` agents that commit, landing `direct` or through a pull request: the set-up the landing tests
 * share.
 */
import { COMMITTING_AGENT, makeRepo, type TestRepo } from './fixture.ts';
import { startGithubServer, type GithubSeed, type GithubServer } from './github-server.ts';

/** The token the loopback server accepts. */
export const GITHUB_TOKEN = 'ghp_loopback';
/** How long a wait for the runner to reach a point may take on a loaded machine (a bound, never a timing). */
export const RUN_BOUND_MS = 240_000;

/** The repository, its origin, the server and the environment a run needs. */
export interface GithubRig {
  readonly repo: TestRepo;
  readonly origin: string;
  readonly github: GithubServer;
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** One issue per wave (`Alpha` in wave 1, `Beta` in wave 2, …), landing `land`, the server seeded with `seed`. */
export async function makeGithubRig(
  titles: readonly string[],
  land: 'direct' | 'pull-request',
  seed: Partial<Omit<GithubSeed, 'repo' | 'token' | 'milestones' | 'issues' | 'origin'>> = {},
): Promise<GithubRig> {
  const waves = titles
    .map((title, i) => `  - wave: ${i + 1}\n    items:\n      - {issue: ${i + 1}, title: "${title}"}`)
    .join('\n');
  const plan = `milestone: {number: 7, title: "Search"}
backlog: {kind: github, repo: acme/widgets}
waves:
${waves}
defaults: {agent: command, retries: 0, timeout: 30s, land: ${land}, command: ${JSON.stringify(COMMITTING_AGENT)}}
`;
  const repo = await makeRepo({ plan, items: [], origin: true });
  const origin = repo.origin ?? '';
  const github = await startGithubServer({
    repo: 'acme/widgets',
    token: GITHUB_TOKEN,
    milestones: [{ number: 7, title: 'Search' }],
    issues: titles.map((title, i) => ({ number: i + 1, title })),
    origin,
    ...seed,
  });
  return {
    repo,
    origin,
    github,
    // Polls of the checks come quickly here; what the tests assert waits on requests, never on time.
    env: { GITHUB_API_URL: github.url, GH_TOKEN: GITHUB_TOKEN, WM_CHECKS_POLL_MS: '20', WM_GITHUB_WRITE_GAP_MS: '0' },
    cleanup: async () => {
      await github.close();
      repo.cleanup();
    },
  };
}
