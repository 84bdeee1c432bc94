/**
 * land: compare-and-swap landing. `main` (and origin's) is brought into the integration branch, the gates pass on the
 * result, and `main` moves by fast-forward to a merge commit whose tree is exactly the gated one — only while it still
 * is the `main` that was brought in. If it moved meanwhile, the round starts again (bounded). Never a merge in the
 * user's checkout, never a forced push; landings of several milestones of one repository take turns.
 */
import { firstOf, oneLine } from '../lib/bounded-text.ts';
import { refuseDroppedMerges } from '../merging/dropped-merges.ts';
import { BACKLOG_READS_AT_ONCE } from '../backlog/backlog.ts';
import { settleAtMost } from '../lib/map-at-most.ts';
import { settledValues } from '../lib/diagnostics.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { keepRunnerExcludes } from '../guards/exclude-guard.ts';
import type { Ctx } from '../engine/context.ts';
import { makeGatesGreen } from './gates.ts';
import { BadInputError, NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { failureLines, git, gitRaw, isAncestor, listWorktrees, revParse } from '../lib/git.ts';
import { diffNames } from '../lib/diff-names.ts';
import { mergesNotIn } from '../merging/merge-pass.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { worktreeRootOf } from '../lib/paths.ts';
import { listItems } from '../lib/plan/types.ts';
import { withRepoLock } from '../lib/repo-lock.ts';
import { TERMINAL_STATUSES } from '../lib/state-types.ts';
import { changeIntegration, checkMain, integrationHead, integrationTip, patchRefs } from '../guards/refs-guard.ts';
import { headFileSha, looseRef } from '../lib/git-files.ts';
import { looseReachable, onFirstParentChain } from '../lib/git-objects.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { isProtectedBranchRefusal, landModeOf, protectedBranchMessage } from '../landing/land-mode.ts';
import type { LandingParts } from '../landing/land-pull-request.ts';
import { commandLine } from '../lib/command-words.ts';

const MAIN_REF = `refs/heads/${MAIN_BRANCH}`;
const ORIGIN_MAIN = `refs/remotes/origin/${MAIN_BRANCH}`;
/** Rounds of "main moved: bring it in, gate again" before giving up with exit 3. */
export const MAX_LAND_ROUNDS = 3;

/**
 * Whether main contains `sha`, a commit made after the milestone's base (the runner's integration tip, the landing):
 * from loose objects when main's ref file and the commits since the base settle it, else asked of git.
 */
async function inMain(ctx: Ctx, sha: string): Promise<boolean> {
  const base = ctx.store.current().branch?.base;
  const main = looseRef(ctx.commonDir, MAIN_REF);
  const loose =
    base && main ? looseReachable(ctx.commonDir, main, sha, base, 20 * listItems(ctx.plan).length + 200) : null;
  return loose ?? isAncestor(ctx.repo, sha, MAIN_REF);
}

/**
 * Merge `sha` (main or origin's main) into integration when integration does not contain it; conflicts need a human.
 */
async function bringIn(ctx: Ctx, label: string, sha: string, progress: Progress): Promise<boolean> {
  // Found on integration's first-parent chain (loose commits: the runner's own merges on top of it): contained.
  const head = headFileSha(ctx.integrationWorktree, ctx.commonDir);
  const steps = 4 * listItems(ctx.plan).length + 16;
  if (head && onFirstParentChain(ctx.commonDir, head, [sha], steps)) return false;
  if (await isAncestor(ctx.integrationWorktree, sha, 'HEAD')) return false;
  const integration = ctx.plan.milestone.integrationBranch;
  progress.output(`${label} moved: merging it into ${integration}`);
  const out = await gitRaw(ctx.integrationWorktree, [
    'merge',
    '--no-ff',
    '-q',
    '-m',
    `Merge ${label} into ${integration}`,
    sha,
  ]);
  if (out.exitCode !== 0) {
    const files = (await diffNames(ctx.integrationWorktree, ['--diff-filter=U'])).join(', ');
    await gitRaw(ctx.integrationWorktree, ['merge', '--abort']);
    throw new NeedsAttentionError(
      `${label} moved and conflicts with milestone ${ctx.plan.milestone.id} in: ${files || '(see git)'}; ` +
        `nothing was landed; merge ${label} into ${integration} by hand in ${ctx.integrationWorktree}, then run again with --adopt`,
    );
  }
  return true;
}

/**
 * File backlog: the merged items become done in a commit on integration, so main gets them in the same landing.
 * Idempotent: the files are compared with what they should say and whatever differs from HEAD is committed, so a
 * failure between writing and committing (a locked index, a crash) is repaired by the next run.
 */
async function markBacklogDone(ctx: Ctx): Promise<boolean> {
  if (ctx.plan.backlog.kind !== 'file') return false;
  const backlog = ctx.openBacklog(ctx.integrationWorktree);
  const items = ctx.store.current().items;
  const merged = listItems(ctx.plan).filter((item) => items[String(item.issue)]?.merge?.sha);
  // Each item's file is its own: read and written side by side (one after another, a 200-item landing waited
  // seconds on file reads).
  const marked = settledValues(
    await settleAtMost(merged, BACKLOG_READS_AT_ONCE, async (item) => {
      // The path it wrote is the item's file; only an item done already is read for it.
      const written = await backlog.setStatus(item.issue, 'done');
      return { wrote: written.length > 0, source: written[0] ?? (await backlog.readItem(item.issue))?.source };
    }),
  );
  const wrote = marked.some((m) => m.wrote);
  const sources = marked.flatMap((m) => (m.source ? [m.source] : []));
  const done = merged.map((item) => item.issue);
  if (sources.length === 0) return false;
  const message = `backlog: mark ${done.map((i) => `#${i}`).join(', ')} done`;
  // Files just changed and tracked (the usual case): commit them as they are, without asking git first.
  if (
    wrote &&
    (await gitRaw(ctx.integrationWorktree, ['commit', '-q', '-m', message, '--', ...sources])).exitCode === 0
  )
    return true;
  // Untrimmed: a line's status may start with a space (" M file").
  const status = await gitRaw(ctx.integrationWorktree, ['status', '--porcelain', '--', ...sources]);
  if (status.exitCode !== 0)
    throw new StepFailedError(`git status failed in ${ctx.integrationWorktree}: ${status.stderr.trim()}`);
  const changed = status.stdout.split('\n').filter(Boolean);
  if (changed.length === 0) return false;
  // `commit -- <paths>` takes tracked files as they are; only a new file (`??`) needs adding first.
  if (changed.some((line) => !/^ M /.test(line))) await git(ctx.integrationWorktree, ['add', '--', ...sources]);
  await git(ctx.integrationWorktree, ['commit', '-q', '-m', message, '--', ...sources]);
  return true;
}

/** Whether HEAD differs from the green sha by backlog status files only. */
async function onlyBacklogSince(ctx: Ctx, green: string, head: string): Promise<boolean> {
  if (ctx.plan.backlog.kind !== 'file') return false;
  const dir = `${ctx.plan.backlog.dir.replace(/\/$/, '')}/`;
  const files = await diffNames(ctx.integrationWorktree, [green, head]);
  return (await isAncestor(ctx.integrationWorktree, green, head)) && files.every((f) => f.startsWith(dir));
}

/** Bring main in, mark the backlog, gate: returns the gated integration sha and the main it contains. */
async function prepareRound(
  ctx: Ctx,
  origin: boolean,
  progress: Progress,
): Promise<{ readonly gated: string; readonly main: string }> {
  if (origin) await fetchOrigin(ctx);
  const { main, originMain } = await checkMain(ctx, origin);
  // The tip the operation left is the gated one.
  return changeIntegration(
    ctx,
    'land',
    async () => {
      const bringInMain = async () => {
        const local = await bringIn(ctx, MAIN_BRANCH, main, progress);
        return (originMain !== null && (await bringIn(ctx, `origin/${MAIN_BRANCH}`, originMain, progress))) || local;
      };
      // An ejection in the gates rebuilds integration without the culprit, and main's merge may not apply without it:
      // main is brought in again then, and gated again (a few times at most; then landing stops on it below).
      for (let round = 0; round < 3 && (await bringInMain()); round++) await makeGatesGreen(ctx, progress);
      const before = await integrationHead(ctx);
      const marked = await markBacklogDone(ctx);
      const head = marked ? await integrationHead(ctx) : before;
      const green = ctx.store.current().gates?.sha;
      // One commit of the backlog files alone on top of the green sha: no need to ask git what it changed.
      const backlogOnly = marked && before === green;
      if (!green || (green !== head && !backlogOnly && !(await onlyBacklogSince(ctx, green, head)))) {
        progress.output('integration moved since the gates passed: running them again');
        await makeGatesGreen(ctx, progress);
        return { gated: await assertLandable(ctx, main), main };
      }
      return { gated: await assertLandable(ctx, main, head), main };
    },
    (r) => r.gated,
  );
}

/**
 * The sha to land: integration's tip, which must be the green one (or a backlog-only commit on it, `head`), hold
 * every merge state records, and contain `main`. Anything else means someone moved or rewrote the branch after the
 * gates (exit 3, nothing lands).
 */
async function assertLandable(ctx: Ctx, main: string, head?: string): Promise<string> {
  const tip = await integrationHead(ctx);
  const green = ctx.store.current().gates?.sha;
  const stop = (what: string) =>
    new NeedsAttentionError(
      `the integration branch at ${tip.slice(0, 10)} ${what} (not by the runner); nothing was landed; look with: ` +
        `git -C ${ctx.integrationWorktree} reflog -n 20; then run again`,
    );
  if (tip !== (head ?? green))
    throw stop(`is not the sha the gates passed (${(head ?? green ?? 'none').slice(0, 10)})`);
  const missing = await mergesNotIn(ctx, tip);
  if (missing.length > 0) throw stop(`no longer holds the merges of ${missing.map((i) => `#${i}`).join(', ')}`);
  const steps = 4 * listItems(ctx.plan).length + 16;
  if (!onFirstParentChain(ctx.commonDir, tip, [main], steps) && !(await isAncestor(ctx.repo, main, tip)))
    throw stop(`does not contain ${MAIN_BRANCH} (${main.slice(0, 10)}), which landing would drop`);
  return tip;
}

/** The landing commit: a merge of `main` and the gated sha whose tree is the gated tree (main is contained in it). */
async function landingCommit(ctx: Ctx, main: string, gated: string): Promise<string> {
  const message = `Merge milestone ${ctx.plan.milestone.id}: ${oneLine(ctx.plan.milestone.title)}`;
  // commit-tree takes the tree-ish itself: no separate rev-parse of the tree.
  return git(ctx.repo, ['commit-tree', `${gated}^{tree}`, '-p', main, '-p', gated, '-m', message]);
}

/**
 * Move main from `expected` to `commit` by fast-forward, only if main is still `expected`. Where main is checked out
 * (the user's checkout) its files move too, and only when it is clean; a worktree of ours that an agent switched to
 * main is detached first. Returns false when main moved meanwhile.
 */
async function moveMain(ctx: Ctx, expected: string, commit: string): Promise<boolean> {
  const ours = worktreeRootOf(ctx.repo, ctx.plan);
  const holders = (await listWorktrees(ctx.repo)).filter((w) => w.branch === MAIN_BRANCH);
  for (const holder of holders.filter((w) => w.path.startsWith(`${ours}/`))) {
    await git(holder.path, ['switch', '-q', '--detach']);
    ctx.events.emit({
      type: 'notice',
      message: `${holder.path} had ${MAIN_BRANCH} checked out (not by the runner); detached it`,
    });
  }
  const holder = holders.find((w) => !w.path.startsWith(`${ours}/`));
  if (!holder)
    return (
      (await gitRaw(ctx.repo, ['update-ref', '-m', 'work-milestone: land', MAIN_REF, commit, expected])).exitCode === 0
    );
  // The runner's own worktree folder is no change of the user's (an agent may have emptied the exclude file).
  await keepRunnerExcludes(ctx);
  const dirty = await dirtyPaths(holder.path);
  if (dirty.length)
    throw new NeedsAttentionError(
      `${holder.path} has uncommitted changes (${dirty.slice(0, 3).join(', ')}); commit or stash them, then run again to land`,
    );
  if (looseRef(ctx.commonDir, MAIN_REF) !== expected && (await revParse(ctx.repo, MAIN_REF)) !== expected) return false;
  // --ff-only never leaves a merge in progress; but it updates the files before main's ref, so a ref it cannot lock
  // (a stray main.lock) leaves the checkout at the landing commit's files while main stays.
  const out = await gitRaw(holder.path, ['merge', '--ff-only', '-q', commit]);
  if (out.exitCode === 0) return true;
  if ((await revParse(ctx.repo, MAIN_REF)) !== expected) return false;
  const why = failureLines(out.stderr, 1);
  const left = await putCheckoutBack(holder.path, commit, expected);
  throw new StepFailedError(
    `could not fast-forward ${MAIN_BRANCH} in ${holder.path} to the landing commit ${commit.slice(0, 10)}: ${why}` +
      (left.length
        ? `; its files were left changed (${firstOf(left, 3)}): look with git -C ${holder.path} status`
        : `; your checkout is as it was`),
  );
}

/**
 * The checkout at `dir` back to `main`'s files after a fast-forward to `landing` that moved its files but not the
 * branch: only paths the two differ in, and only where they still hold the landing commit's content (a two-tree
 * `read-tree`, as `git checkout` switches). Returns the paths still changed (none when it was put back).
 */
async function putCheckoutBack(dir: string, landing: string, main: string): Promise<readonly string[]> {
  if ((await dirtyPaths(dir)).length === 0) return [];
  await gitRaw(dir, ['read-tree', '-m', '-u', landing, main]);
  return dirtyPaths(dir);
}

/** Push main to origin, fast-forward only; false when origin moved (the next round brings it in). */
async function pushMain(ctx: Ctx, sha: string): Promise<boolean> {
  const out = await gitRaw(ctx.repo, ['push', '--quiet', 'origin', `${sha}:${MAIN_REF}`]);
  if (out.exitCode === 0) {
    await git(ctx.repo, ['update-ref', ORIGIN_MAIN, sha]);
    await ctx.store.update((s) => {
      if (s.land) s.land.pushed = true;
      s.refs = patchRefs(s.refs, { originMain: sha });
    });
    ctx.events.emit({ type: 'land', phase: 'pushed', sha });
    return true;
  }
  // A protected main never takes a direct push: say which setting lands anyway.
  if (isProtectedBranchRefusal(out.stderr)) throw new StepFailedError(protectedBranchMessage(MAIN_BRANCH, out.stderr));
  await fetchOrigin(ctx);
  const remote = await revParse(ctx.repo, ORIGIN_MAIN);
  if (remote && !(await isAncestor(ctx.repo, remote, sha))) return false;
  throw new StepFailedError(
    `git push origin ${MAIN_BRANCH} failed (${failureLines(out.stderr, 1)}); ${MAIN_BRANCH} has the milestone locally; run again to push`,
  );
}

/** Whether landing pushes: `--no-push` and a repository that never had origin do not; an origin that went away must. */
async function wantsPush(ctx: Ctx, origin?: boolean): Promise<boolean> {
  if (!ctx.options.push) return false;
  if (origin ?? (await ctx.hasOrigin())) return true;
  return ctx.store.current().refs?.originMain != null;
}

/** Fetch origin; an origin that is gone or unreachable is said, never silently skipped. */
async function fetchOrigin(ctx: Ctx): Promise<void> {
  const how = 'nothing was landed; fix the remote and run again, or run with --no-push to land on the local main only';
  if (!(await ctx.hasOrigin(true)))
    throw new StepFailedError(
      `the remote origin is gone (milestone ${ctx.plan.milestone.id} started with one); ${how}`,
    );
  const out = await gitRaw(ctx.repo, ['fetch', '--quiet', 'origin']);
  if (out.exitCode !== 0)
    throw new StepFailedError(
      `cannot fetch from origin (${out.stderr.trim().split('\n').slice(-1)[0] ?? 'git fetch failed'}); ${how}`,
    );
}

/** The landing commit main got, from the record (or the intent recorded just before moving main). */
function landedCommit(ctx: Ctx): string | null {
  const st = ctx.store.current();
  return st.landing?.commit ?? st.land?.mainAfter ?? null;
}

/**
 * Where the landing stands: main lacks it, main has it but state does not say so yet (a crash), origin lacks it, or
 * done.
 */
async function landState(ctx: Ctx, origin?: boolean): Promise<'not-landed' | 'not-recorded' | 'not-pushed' | 'done'> {
  // Items merged after an earlier landing (`run` again after failures) make integration move on: land again.
  const st = ctx.store.current();
  const head = await integrationTip(ctx, st.refs?.integration ?? null);
  const landed = landedCommit(ctx);
  // main's loose ref file at the landing commit this file made (`landingCommit`: its second parent is the recorded
  // integration sha), with integration still there: both are contained in main. A pull request's merge is asked of git.
  const mainIsLanded =
    landed !== null &&
    landModeOf(ctx) !== 'pull-request' &&
    looseRef(ctx.commonDir, MAIN_REF) === landed &&
    (st.landing?.commit ?? st.land?.mainAfter) === landed &&
    (st.landing?.integration ?? st.land?.integration) === head;
  if (mainIsLanded) {
    // Contained, as the branches below would find with git.
  } else {
    // The recorded tip and the landing commit are the runner's own; a tip moved by anyone else is asked of git.
    const ours = head !== null && head === st.refs?.integration;
    if (head && !(await (ours ? inMain(ctx, head) : isAncestor(ctx.repo, head, MAIN_REF)))) return 'not-landed';
    if (!landed || !(await inMain(ctx, landed))) return 'not-landed';
  }
  if (ctx.store.current().land?.mainAfter !== landed) return 'not-recorded';
  if (!ctx.store.current().land?.pushed && (await wantsPush(ctx, origin))) {
    const remote = await revParse(ctx.repo, ORIGIN_MAIN);
    if (!remote || !(await isAncestor(ctx.repo, landed, remote))) return 'not-pushed';
  }
  return 'done';
}

/** Items that have not finished (no state, pending, in progress): landing waits for them. */
function unfinished(ctx: Ctx): number[] {
  const items = ctx.store.current().items;
  return listItems(ctx.plan)
    .filter((i) => !TERMINAL_STATUSES.has(items[String(i.issue)]?.status ?? 'pending'))
    .map((i) => i.issue);
}

function anythingMerged(ctx: Ctx): boolean {
  return Object.values(ctx.store.current().items).some((i) => i.merge?.sha);
}

/** Record a landing found on main (also after a crash between moving main and recording it). */
async function recordLanded(ctx: Ctx): Promise<void> {
  const st = ctx.store.current();
  if (!st.landing || st.land?.mainAfter === st.landing.commit) return;
  const { commit, mainBefore, integration } = st.landing;
  await ctx.store.update((s) => {
    s.land = { mainBefore, mainAfter: commit, integration, pushed: false, at: new Date().toISOString() };
    s.refs = patchRefs(s.refs, { main: commit });
  });
  ctx.events.emit({ type: 'land', phase: 'merged', sha: commit });
}

/**
 * Forget a landing that origin overtook: origin's new main is brought in, gated, and landed on top of it next round.
 */
async function forgetLanding(ctx: Ctx, progress: Progress): Promise<void> {
  progress.output(`origin's ${MAIN_BRANCH} moved: bringing it in and gating again`);
  await ctx.store.update((s) => {
    s.land = null;
    s.landing = null;
  });
}

async function landRounds(ctx: Ctx, progress: Progress): Promise<void> {
  // Asked again (the gates may have removed it), then once for the rounds: a remote added or removed while
  // landing is seen by the next run.
  const origin = await ctx.hasOrigin(true);
  const push = await wantsPush(ctx, origin);
  if (!ctx.options.push && origin) progress.output('--no-push: origin is left as it is');
  for (let round = 1; round <= MAX_LAND_ROUNDS; round++) {
    let state = await landState(ctx, origin);
    // main has the landing but a crash kept it out of state: record it, then see what is left (costs no round).
    if (state === 'not-recorded') {
      await recordLanded(ctx);
      state = await landState(ctx, origin);
    }
    if (state === 'done') return;
    if (state === 'not-pushed') {
      if (await pushMain(ctx, landedCommit(ctx) as string)) return progress.output('pushed to origin');
      await forgetLanding(ctx, progress);
      continue;
    }
    const { gated, main } = await prepareRound(ctx, push, progress);
    const commit = await landingCommit(ctx, main, gated);
    await ctx.store.update((s) => {
      s.landing = { commit, mainBefore: main, integration: gated, at: new Date().toISOString() };
    });
    if (!(await moveMain(ctx, main, commit))) {
      progress.output(`${MAIN_BRANCH} moved while landing: bringing it in and gating again`);
      await ctx.store.update((s) => {
        s.landing = null;
      });
      continue;
    }
    await recordLanded(ctx);
    progress.output(`${MAIN_BRANCH} is now ${commit.slice(0, 10)}`);
    if (!push) return;
    if (await pushMain(ctx, commit)) return progress.output('pushed to origin');
    await forgetLanding(ctx, progress);
  }
  throw new NeedsAttentionError(
    `${MAIN_BRANCH} kept moving while milestone ${ctx.plan.milestone.id} was landing (${MAX_LAND_ROUNDS} rounds of bringing it in and gating); nothing unchecked was landed; run again when ${MAIN_BRANCH} is quiet`,
  );
}

/** What landing through a pull request borrows from this file: the same gating, the same move of main. */
function landingParts(ctx: Ctx, progress: Progress): LandingParts {
  return {
    prepare: () => prepareRound(ctx, true, progress),
    moveMain: (expected, commit) => moveMain(ctx, expected, commit),
    fetchOrigin: () => fetchOrigin(ctx),
    unpushedLanding: async () => ((await landState(ctx)) === 'not-pushed' ? landedCommit(ctx) : null),
  };
}

/** land step. */
export const land: Step = {
  id: 'land',
  async check(ctx) {
    const state = await landState(ctx);
    if (state === 'done') return DONE;
    // Nothing merged is "done" only once every item has finished (all failed or escalated): never before anything ran.
    if (state === 'not-landed' && !anythingMerged(ctx) && unfinished(ctx).length === 0)
      return { kind: 'done', detail: 'nothing merged, nothing to land' };
    if (state === 'not-recorded') return todo('main has the landing commit; recording it');
    if (state === 'not-pushed') return todo('not pushed to origin yet');
    return todo('main does not contain the milestone');
  },
  async run(ctx, _scope, progress) {
    // `step land` does not pass through validate, which refuses it too.
    refuseDroppedMerges(ctx);
    if (!anythingMerged(ctx) && !landedCommit(ctx)) {
      const waiting = unfinished(ctx);
      if (waiting.length === 0) return progress.output('nothing merged, nothing to land');
      throw new BadInputError(
        `nothing of milestone ${ctx.plan.milestone.id} is merged yet (${waiting.map((i) => `#${i}`).join(', ')} not finished), so there is nothing to land; run ${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id])}`,
      );
    }
    await withRepoLock(
      ctx.commonDir,
      'land',
      {
        signal: ctx.signal,
        command: `land ${ctx.plan.milestone.id}`,
        onWait: (owner) =>
          progress.output(
            `waiting for another landing to finish${owner ? ` (${owner.command}, pid ${owner.pid})` : ''}`,
          ),
      },
      () =>
        landModeOf(ctx) === 'pull-request'
          ? // Loaded only for this mode: it brings Octokit.
            import('../landing/land-pull-request.ts').then((m) =>
              m.landThroughPullRequest(ctx, progress, landingParts(ctx, progress)),
            )
          : landRounds(ctx, progress),
    );
  },
};
