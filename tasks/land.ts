/** land: bring main in if it moved (gates again), mark backlog items done, merge integration into main (--no-ff), push. Never force. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { hasOrigin, MAIN_BRANCH } from './branch.ts';
import type { Ctx } from './context.ts';
import { makeGatesGreen } from './gates.ts';
import { NeedsAttentionError, StepFailedError } from './lib/errors.ts';
import { dirtyPaths, git, gitRaw, isAncestor, listWorktrees, revParse } from './lib/git.ts';
import { listItems } from './lib/plan-types.ts';
import { DONE, todo, type Progress, type Step } from './step.ts';

const MAIN_REF = `refs/heads/${MAIN_BRANCH}`;

/** Merge main (and origin's main) into integration when they moved; conflicts need a human. */
async function bringInMain(ctx: Ctx, progress: Progress): Promise<boolean> {
  const upstreams = [MAIN_REF];
  if (await hasOrigin(ctx.repo)) {
    await git(ctx.repo, ['fetch', '--quiet', 'origin']);
    if (await revParse(ctx.repo, `refs/remotes/origin/${MAIN_BRANCH}`)) upstreams.push(`refs/remotes/origin/${MAIN_BRANCH}`);
  }
  let moved = false;
  for (const ref of upstreams) {
    if (await isAncestor(ctx.integrationWorktree, ref, 'HEAD')) continue;
    progress.output(`${ref.replace('refs/', '')} moved: merging it into ${ctx.plan.milestone.integrationBranch}`);
    const out = await gitRaw(ctx.integrationWorktree, ['merge', '--no-ff', '-q', '-m', `Merge ${ref.replace(/^refs\/(heads|remotes)\//, '')} into ${ctx.plan.milestone.integrationBranch}`, ref]);
    if (out.exitCode !== 0) {
      const files = await git(ctx.integrationWorktree, ['diff', '--name-only', '--diff-filter=U']);
      await gitRaw(ctx.integrationWorktree, ['merge', '--abort']);
      throw new NeedsAttentionError(`${MAIN_BRANCH} moved and conflicts with milestone ${ctx.plan.milestone.id} in: ${files.split('\n').join(', ')}; merge ${MAIN_BRANCH} into ${ctx.plan.milestone.integrationBranch} by hand in ${ctx.integrationWorktree}, then run again`);
    }
    moved = true;
  }
  return moved;
}

/**
 * File backlog: the merged items become done in a commit on integration, so main gets them in the same merge.
 * Idempotent: the files are compared with what they should say and whatever differs from HEAD is committed, so a
 * failure between writing and committing (a locked index, a crash) is repaired by the next run.
 */
async function markBacklogDone(ctx: Ctx): Promise<void> {
  if (ctx.plan.backlog.kind !== 'file') return;
  const backlog = ctx.openBacklog(ctx.integrationWorktree);
  const items = ctx.store.current().items;
  const sources: string[] = [];
  const done: number[] = [];
  for (const item of listItems(ctx.plan)) {
    if (!items[String(item.issue)]?.merge?.sha) continue;
    await backlog.setStatus(item.issue, 'done');
    const source = (await backlog.readItem(item.issue))?.source;
    if (source) sources.push(source);
    done.push(item.issue);
  }
  if (sources.length === 0) return;
  const changed = (await git(ctx.integrationWorktree, ['status', '--porcelain', '--', ...sources])).split('\n').filter(Boolean);
  if (changed.length === 0) return;
  await git(ctx.integrationWorktree, ['add', '--', ...sources]);
  await git(ctx.integrationWorktree, ['commit', '-q', '-m', `backlog: mark ${done.map((i) => `#${i}`).join(', ')} done`, '--', ...sources]);
}

/** Whether HEAD differs from the green sha by backlog status files only. */
async function onlyBacklogSince(ctx: Ctx, green: string): Promise<boolean> {
  if (ctx.plan.backlog.kind !== 'file') return false;
  const dir = `${ctx.plan.backlog.dir.replace(/\/$/, '')}/`;
  const files = (await git(ctx.integrationWorktree, ['diff', '--name-only', green, 'HEAD'])).split('\n').filter(Boolean);
  return (await isAncestor(ctx.integrationWorktree, green, 'HEAD')) && files.every((f) => f.startsWith(dir));
}

/** Merge integration into main where main is checked out, or in a temporary worktree. */
async function mergeIntoMain(ctx: Ctx, integration: string): Promise<string> {
  const holder = (await listWorktrees(ctx.repo)).find((w) => w.branch === MAIN_BRANCH);
  const message = `Merge milestone ${ctx.plan.milestone.id}: ${ctx.plan.milestone.title.replace(/\s+/g, ' ')}`;
  if (holder) {
    const dirty = await dirtyPaths(holder.path);
    if (dirty.length) throw new NeedsAttentionError(`${holder.path} has uncommitted changes (${dirty.slice(0, 3).join(', ')}); commit or stash them, then run again to land`);
    await git(holder.path, ['merge', '--no-ff', '-q', '-m', message, integration]);
    return git(holder.path, ['rev-parse', 'HEAD']);
  }
  const tmp = path.join(ctx.stateDir, 'land-worktree');
  if (existsSync(tmp)) await gitRaw(ctx.repo, ['worktree', 'remove', '--force', tmp]);
  await git(ctx.repo, ['worktree', 'add', '--quiet', tmp, MAIN_BRANCH]);
  try {
    await git(tmp, ['merge', '--no-ff', '-q', '-m', message, integration]);
    return await git(tmp, ['rev-parse', 'HEAD']);
  } finally {
    await gitRaw(ctx.repo, ['worktree', 'remove', '--force', tmp]);
  }
}

async function wantsPush(ctx: Ctx): Promise<boolean> {
  return ctx.options.push && (await hasOrigin(ctx.repo));
}

/** land step. */
export const land: Step = {
  id: 'land',
  async check(ctx) {
    const st = ctx.store.current();
    const head = await revParse(ctx.repo, `refs/heads/${ctx.plan.milestone.integrationBranch}`);
    const landed = head ? await isAncestor(ctx.repo, head, MAIN_REF) : st.land !== null;
    if (!landed) return todo('main does not contain the integration branch');
    // A crash between the merge into main and its record must still push: ask origin, not only state.
    const landedSha = st.land?.mainAfter ?? head;
    if (landedSha && !st.land?.pushed && (await wantsPush(ctx))) {
      const remote = await revParse(ctx.repo, `refs/remotes/origin/${MAIN_BRANCH}`);
      if (!remote || !(await isAncestor(ctx.repo, landedSha, remote))) return todo('not pushed to origin yet');
    }
    return DONE;
  },
  async run(ctx, _scope, progress) {
    const integration = ctx.plan.milestone.integrationBranch;
    const head = await revParse(ctx.repo, `refs/heads/${integration}`);
    if (head && !(await isAncestor(ctx.repo, head, MAIN_REF))) {
      if (await bringInMain(ctx, progress)) await makeGatesGreen(ctx, progress);
      await markBacklogDone(ctx);
      const green = ctx.store.current().gates?.sha;
      const now = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
      if (!green || (green !== now && !(await onlyBacklogSince(ctx, green)))) {
        progress.output('integration moved since the gates passed: running them again');
        await makeGatesGreen(ctx, progress);
      }
      const mainBefore = (await revParse(ctx.repo, MAIN_REF)) as string;
      const mainAfter = await mergeIntoMain(ctx, integration);
      await ctx.store.update((s) => {
        s.land = { mainBefore, mainAfter, integration: now, pushed: false, at: new Date().toISOString() };
      });
      ctx.events.emit({ type: 'land', phase: 'merged', sha: mainAfter });
      progress.output(`main is now ${mainAfter.slice(0, 10)}`);
    }
    if (head && !ctx.store.current().land) {
      const main = (await revParse(ctx.repo, MAIN_REF)) as string;
      await ctx.store.update((s) => {
        s.land = { mainBefore: s.branch?.base ?? main, mainAfter: main, integration: head, pushed: false, at: new Date().toISOString() };
      });
    }
    if (await wantsPush(ctx)) {
      const out = await gitRaw(ctx.repo, ['push', '--quiet', 'origin', `${MAIN_REF}:${MAIN_REF}`]);
      if (out.exitCode !== 0) {
        throw new StepFailedError(`git push origin ${MAIN_BRANCH} was rejected (${out.stderr.trim().split('\n')[0]}); main has the milestone locally — pull origin/main into main and push, or run again`);
      }
      const sha = (await revParse(ctx.repo, MAIN_REF)) as string;
      await ctx.store.update((s) => {
        if (s.land) s.land.pushed = true;
      });
      ctx.events.emit({ type: 'land', phase: 'pushed', sha });
      progress.output('pushed to origin');
    }
  },
};
