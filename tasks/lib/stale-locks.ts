/**
 * Lock files git leaves when it is killed in the middle of an operation: a conflict or fix agent stopped at its time
 * limit while it ran `git add` or `git commit` in the integration worktree leaves `index.lock` there, and every
 * later git command in that worktree fails ("Unable to create … index.lock: File exists") on every run. The runner
 * removes such a lock when no git process works in the worktree: then nobody holds it.
 */
import { lstatSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gitDirOf } from './git-files.ts';
import { gitProcessesIn } from './git-orphans.ts';

/**
 * Remove the lock files of `worktree` (its index and HEAD) and of `branch` (its ref, in `commonDir`) when no git
 * process runs in the worktree, and tell `notify` which. Nothing is removed while any git (the runner's own too)
 * works there: that git may hold them.
 */
export function removeStaleLocks(
  worktree: string,
  commonDir: string,
  branch: string,
  notify: (message: string) => void,
): void {
  const gitDir = gitDirOf(worktree);
  if (!gitDir) return;
  const present = [
    path.join(gitDir, 'index.lock'),
    path.join(gitDir, 'HEAD.lock'),
    path.join(commonDir, 'refs', 'heads', `${branch}.lock`),
  ].filter((file) => lstatSync(file, { throwIfNoEntry: false }) !== undefined);
  if (present.length === 0 || gitProcessesIn(worktree, new Set()).length > 0) return;
  for (const file of present) rmSync(file, { force: true });
  notify(`removed ${present.join(', ')}: left by a git process that was killed (no git works there now)`);
}
