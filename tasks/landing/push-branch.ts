/**
 * Pushing the integration branch to origin for `land: pull-request`: after every wave's merges (the milestone's
 * progress is visible on GitHub) and before the pull request. Never forced: a push origin refuses names what moved.
 */
import type { Ctx } from '../engine/context.ts';
import { StepFailedError } from '../lib/errors.ts';
import { gitRaw, isAncestor } from '../lib/git.ts';

/** Whether the repository has a remote named origin. */
export async function originExists(ctx: Ctx): Promise<boolean> {
  return (await gitRaw(ctx.repo, ['remote', 'get-url', 'origin'])).exitCode === 0;
}

/** Push `sha` to origin's integration branch, fast-forward only; a refusal says what origin has there instead. */
export async function pushIntegration(ctx: Ctx, sha: string): Promise<void> {
  const branch = ctx.plan.milestone.integrationBranch;
  const ref = `refs/heads/${branch}`;
  const out = await gitRaw(ctx.repo, ['push', '--quiet', 'origin', `${sha}:${ref}`]);
  if (out.exitCode === 0) return;
  const remote = await gitRaw(ctx.repo, ['ls-remote', 'origin', ref]);
  const there = remote.exitCode === 0 ? (remote.stdout.trim().split(/\s/)[0] ?? '') : '';
  const known = there !== '' && (await gitRaw(ctx.repo, ['cat-file', '-e', `${there}^{commit}`])).exitCode === 0;
  const moved =
    there === ''
      ? `(${out.stderr.trim().split('\n').slice(-1)[0] ?? 'git push failed'})`
      : known && (await isAncestor(ctx.repo, there, sha))
        ? `(${out.stderr.trim().split('\n')[0] ?? 'git push failed'})`
        : `: origin's ${branch} moved to ${there.slice(0, 10)}, which ${branch} here does not contain (someone pushed to it)`;
  throw new StepFailedError(
    `git push origin ${branch} was refused${moved}; nothing was forced; bring origin's ${branch} into ` +
      `${branch} by hand (git fetch origin, then merge it in ${ctx.integrationWorktree}) and run again with --adopt`,
  );
}

/** Delete the integration branch on origin after landing; one that is already gone counts as deleted. */
export async function deleteRemoteIntegration(ctx: Ctx): Promise<void> {
  const ref = `refs/heads/${ctx.plan.milestone.integrationBranch}`;
  const remote = await gitRaw(ctx.repo, ['ls-remote', 'origin', ref]);
  if (remote.exitCode === 0 && remote.stdout.trim() === '') return;
  const out = await gitRaw(ctx.repo, ['push', '--quiet', 'origin', '--delete', ref]);
  if (out.exitCode !== 0)
    ctx.events.emit({
      type: 'notice',
      message: `could not delete ${ctx.plan.milestone.integrationBranch} on origin: ${out.stderr.trim().split('\n')[0]}`,
    });
}
