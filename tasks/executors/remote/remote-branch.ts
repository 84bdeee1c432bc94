/**
 * The git side of a remote run: the integration commit the job starts from goes to the shared remote first; the
 * item branch the job pushed comes back into the item's worktree.
 */
import { StepFailedError } from '../../lib/errors.ts';
import { gitRaw, failureLines } from '../../lib/git.ts';

/** The network's share of a git call's time limit. */
const NETWORK_TIMEOUT_MS = 5 * 60_000;

/**
 * Push `base` to the remote's integration branch, never forced: a remote branch already past it (another item of
 * the milestone pushed a later tip) is fine as long as it contains `base`.
 */
export async function pushIntegration(worktree: string, remote: string, base: string, branch: string): Promise<void> {
  const pushed = await gitRaw(worktree, ['push', '-q', remote, `${base}:refs/heads/${branch}`], {
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (pushed.exitCode === 0) return;
  const fetched = await gitRaw(worktree, ['fetch', '-q', '--no-tags', remote, `refs/heads/${branch}`], {
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  const contains =
    fetched.exitCode === 0 &&
    (await gitRaw(worktree, ['merge-base', '--is-ancestor', base, 'FETCH_HEAD'])).exitCode === 0;
  if (!contains)
    throw new StepFailedError(
      `could not push the integration commit ${base.slice(0, 12)} to ${remote} ${branch} for a remote agent: ` +
        failureLines(pushed.stderr || pushed.stdout, 3),
    );
}

/**
 * Bring the item branch the job pushed into the worktree (its branch is checked out there): what the runner then
 * judges is what the remote agent committed. False when the remote has no such branch.
 */
export async function fetchItemBranch(worktree: string, remote: string, branch: string): Promise<boolean> {
  const fetched = await gitRaw(worktree, ['fetch', '-q', '--no-tags', remote, `+refs/heads/${branch}`], {
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (fetched.exitCode !== 0) return false;
  const reset = await gitRaw(worktree, ['reset', '-q', '--hard', 'FETCH_HEAD']);
  if (reset.exitCode !== 0)
    throw new StepFailedError(
      `could not move ${branch} to what the remote agent pushed: ${failureLines(reset.stderr, 3)}`,
    );
  return true;
}

/** The text of `file` in the commit `ref` of the remote points at, or null when there is no such ref. */
export async function readRemoteFile(
  worktree: string,
  remote: string,
  ref: string,
  file: string,
): Promise<string | null> {
  const fetched = await gitRaw(worktree, ['fetch', '-q', '--no-tags', remote, `+${ref}`], {
    timeoutMs: NETWORK_TIMEOUT_MS,
  });
  if (fetched.exitCode !== 0) return null;
  const shown = await gitRaw(worktree, ['show', `FETCH_HEAD:${file}`]);
  return shown.exitCode === 0 ? shown.stdout : null;
}
