/**
 * `land: pull-request`: the gated integration branch is pushed to origin, a pull request into main is opened (or the
 * open one reused) with the run report as its body, merged with a merge commit once its checks are green, and the
 * local main fast-forwarded to origin's the way direct landing moves it. Crash-safe: a pull request already merged
 * (found by the head branch) or an origin main that already contains the milestone counts as landed.
 */
import type { Ctx } from '../engine/context.ts';
import type { Progress } from '../engine/step.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { git, gitRaw, isAncestor, revParse } from '../lib/git.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { patchRefs } from '../guards/refs-guard.ts';
import { formatReport } from '../reporting/report-text.ts';
import { deleteRemoteIntegration, originExists, pushIntegration } from './push-branch.ts';
import { mergeWhenGreen, openPull, openPullSession, pullsOfBranch } from './pull-request.ts';

const MAIN_REF = `refs/heads/${MAIN_BRANCH}`;
const ORIGIN_MAIN = `refs/remotes/origin/${MAIN_BRANCH}`;

/** What landing through a pull request borrows from the direct landing (steps/land.ts). */
export interface LandingParts {
  /** Bring main in, mark the backlog, gate: the gated integration sha and the main it contains. */
  prepare(): Promise<{ readonly gated: string; readonly main: string }>;
  /** Fast-forward main from `expected` to `commit` (clean checkout only); false when main moved meanwhile. */
  moveMain(expected: string, commit: string): Promise<boolean>;
  /** Fetch origin, saying why not when it cannot. */
  fetchOrigin(): Promise<void>;
  /** The landing commit main already has but origin lacks (a direct landing whose push was refused), or null. */
  unpushedLanding(): Promise<string | null>;
}

/** The merge commit of a pull request of the branch that contains `head` and is on origin's main, or null. */
async function mergedPullOf(ctx: Ctx, head: string, merged: readonly (string | null)[]): Promise<string | null> {
  for (const sha of merged) {
    if (!sha || !(await revParse(ctx.repo, sha))) continue;
    if ((await isAncestor(ctx.repo, head, sha)) && (await isAncestor(ctx.repo, sha, ORIGIN_MAIN))) return sha;
  }
  return null;
}

/** Land milestone `ctx` through a pull request. */
export async function landThroughPullRequest(ctx: Ctx, progress: Progress, parts: LandingParts): Promise<void> {
  if (!ctx.options.push)
    throw new BadInputError('--no-push cannot land through a pull request (land: pull-request pushes to origin)');
  if (!(await originExists(ctx)))
    throw new BadInputError('land: pull-request needs a remote origin on GitHub; this repository has none');
  const session = await openPullSession(ctx);
  const branch = ctx.plan.milestone.integrationBranch;
  await parts.fetchOrigin();
  const integration = await git(ctx.repo, ['rev-parse', `refs/heads/${branch}`]);
  const pulls = await pullsOfBranch(session, branch);
  // Merged before a crash (or by hand): landed, only main here and the record are missing.
  let landed = await mergedPullOf(
    ctx,
    integration,
    pulls.filter((p) => p.merged).map((p) => p.mergeCommit),
  );
  if (!landed && (await isAncestor(ctx.repo, integration, ORIGIN_MAIN))) landed = integration;
  let mainBefore = await git(ctx.repo, ['rev-parse', MAIN_REF]);
  if (landed) progress.output(`origin's ${MAIN_BRANCH} already has milestone ${ctx.plan.milestone.id}`);
  else {
    let unpushed = await parts.unpushedLanding();
    for (let round = 1; !landed; round++) {
      if (round > MAX_PULL_ROUNDS)
        throw new NeedsAttentionError(
          `origin's ${MAIN_BRANCH} kept moving while milestone ${ctx.plan.milestone.id} waited to merge ` +
            `(${MAX_PULL_ROUNDS} rounds of bringing it in and gating); nothing unchecked was merged; run again when ` +
            `${MAIN_BRANCH} is quiet`,
        );
      const head = unpushed ?? (await parts.prepare()).gated;
      unpushed = null;
      mainBefore = await git(ctx.repo, ['rev-parse', MAIN_REF]);
      await pushIntegration(ctx, head);
      const pull = await openPull(ctx, session, formatReport(ctx.plan, ctx.store.current(), []));
      progress.output(`pull request ${pull.url}`);
      landed = await mergeWhenGreen(ctx, session, pull, head, progress, () => originMainIn(ctx, head));
      if (!landed) progress.output(`origin's ${MAIN_BRANCH} moved: bringing it in and gating again`);
      else progress.output(`merged ${pull.url} as ${landed.slice(0, 10)}`);
    }
    await parts.fetchOrigin();
  }
  await finish(ctx, progress, parts, landed, mainBefore);
}

/** Rounds of "origin's main moved: bring it in, gate, push" before giving up with exit 3. */
const MAX_PULL_ROUNDS = 3;

/** Whether origin's main (as origin has it now) is contained in `head`: then the merge's tree is the gated one. */
async function originMainIn(ctx: Ctx, head: string): Promise<boolean> {
  const out = await gitRaw(ctx.repo, ['ls-remote', 'origin', MAIN_REF]);
  // Not knowing is "moved": the next round fetches, and says why when origin cannot be reached.
  if (out.exitCode !== 0) return false;
  const tip = out.stdout.trim().split(/\s/)[0];
  if (!tip) return true;
  return (await gitRaw(ctx.repo, ['merge-base', '--is-ancestor', tip, head])).exitCode === 0;
}

/** Fast-forward main to origin's, drop the branch on origin, record the landing. */
async function finish(ctx: Ctx, progress: Progress, parts: LandingParts, landed: string, mainBefore: string) {
  const originMain = await git(ctx.repo, ['rev-parse', ORIGIN_MAIN]);
  const main = await git(ctx.repo, ['rev-parse', MAIN_REF]);
  const integration = await git(ctx.repo, ['rev-parse', `refs/heads/${ctx.plan.milestone.integrationBranch}`]);
  if (!(await isAncestor(ctx.repo, main, originMain)))
    throw new NeedsAttentionError(
      `the pull request is merged on origin, but ${MAIN_BRANCH} here has commits origin's ${MAIN_BRANCH} does not ` +
        `(${main.slice(0, 10)}); bring them together by hand (git pull in your checkout), then run again`,
    );
  await ctx.store.update((s) => {
    s.landing = { commit: landed, mainBefore, integration, at: new Date().toISOString() };
  });
  if (main !== originMain && !(await parts.moveMain(main, originMain)))
    throw new NeedsAttentionError(
      `${MAIN_BRANCH} moved here while landing; origin has the milestone (${landed.slice(0, 10)}); run again`,
    );
  await deleteRemoteIntegration(ctx);
  await ctx.store.update((s) => {
    s.land = { mainBefore, mainAfter: landed, integration, pushed: true, at: new Date().toISOString() };
    s.refs = patchRefs(s.refs, { main: originMain, originMain });
  });
  ctx.events.emit({ type: 'land', phase: 'merged', sha: landed });
  ctx.events.emit({ type: 'land', phase: 'pushed', sha: landed });
  progress.output(`${MAIN_BRANCH} is now ${originMain.slice(0, 10)}`);
}
