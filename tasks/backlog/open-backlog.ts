/** Pick the backlog backend the plan names. */
import type { BacklogConfig } from '../lib/plan/types.ts';
import type { Backlog } from './backlog.ts';
import { createFileBacklog, type FileBacklogOptions } from './file-backlog.ts';
import { createGithubBacklog } from './github-backlog.ts';

/** Options of the backends: the file backlog's, and the environment the GitHub backlog takes its token from. */
export interface BacklogOptions extends FileBacklogOptions {
  readonly env?: NodeJS.ProcessEnv;
}

/** The backlog of a plan, rooted at `root` (a checkout or worktree); `file` options apply to the file backlog. */
export function openBacklog(config: BacklogConfig, root: string, options: BacklogOptions = {}): Backlog {
  switch (config.kind) {
    case 'file':
      return createFileBacklog(root, config.dir, options);
    case 'github':
      return createGithubBacklog({ repo: config.repo, root, env: options.env ?? process.env });
  }
}
