/** Pick the backlog backend the plan names. */
import type { BacklogConfig } from '../lib/plan/types.ts';
import type { Backlog } from './backlog.ts';
import { createFileBacklog, type FileBacklogOptions } from './file-backlog.ts';

/** Options of the backends: the file backlog's, and the environment the GitHub backlog takes its token from. */
export interface BacklogOptions extends FileBacklogOptions {
  readonly env?: NodeJS.ProcessEnv;
}

/** The backlog of a plan, rooted at `root` (a checkout or worktree); `file` options apply to the file backlog. */
export function openBacklog(config: BacklogConfig, root: string, options: BacklogOptions = {}): Backlog {
  switch (config.kind) {
    case 'file':
      return createFileBacklog(root, config.dir, options);
    case 'github': {
      // Loaded on first use: the GitHub backlog brings Octokit, which a milestone of files never needs.
      let loaded: Promise<Backlog> | undefined;
      const github = (): Promise<Backlog> =>
        (loaded ??= import('./github-backlog.ts').then((m) =>
          m.createGithubBacklog({ repo: config.repo, root, env: options.env ?? process.env }),
        ));
      return {
        kind: 'github',
        readItem: async (issue) => (await github()).readItem(issue),
        listItems: async (milestone) => (await github()).listItems(milestone),
        createItem: async (item) => (await github()).createItem(item),
        setStatus: async (issue, status) => (await github()).setStatus(issue, status),
        closeItem: async (issue, landedSha) => (await github()).closeItem(issue, landedSha),
        closeMilestone: async (milestone) => (await github()).closeMilestone(milestone),
      };
    }
  }
}
