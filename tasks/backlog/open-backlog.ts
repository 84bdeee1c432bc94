/** Pick the backlog backend the plan names. */
import { BadInputError } from '../lib/errors.ts';
import type { BacklogConfig } from '../lib/plan/types.ts';
import type { Backlog } from './backlog.ts';
import { createFileBacklog, type FileBacklogOptions } from './file-backlog.ts';

/** The backlog of a plan, rooted at `root` (a checkout or worktree); `file` options apply to the file backlog. */
export function openBacklog(config: BacklogConfig, root: string, file: FileBacklogOptions = {}): Backlog {
  switch (config.kind) {
    case 'file':
      return createFileBacklog(root, config.dir, file);
    case 'github':
      throw new BadInputError(
        `backlog kind github (${config.repo}) is not built yet; use the file backlog (plan/backlog/<issue>.md)`,
      );
  }
}
