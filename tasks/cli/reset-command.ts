/**
 * `reset <N>`: stop the milestone's agents and forget its state, so that the next run starts afresh. Never loses work:
 * a branch (or pin) whose commits main does not hold is kept and named, a worktree with uncommitted changes is kept.
 */
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createContext, placeOf, type MilestonePlace } from '../engine/create-context.ts';
import type { Ctx } from '../engine/context.ts';
import { DEFAULT_OPTIONS } from '../engine/context.ts';
import { commandLine } from '../lib/command-words.ts';
import { BadInputError } from '../lib/errors.ts';
import { git, gitRaw, isAncestor, listWorktrees } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { integrationWorktreeOf, itemBranchOf, itemWorktreeOf, MAIN_BRANCH, worktreeRootOf } from '../lib/paths.ts';
import { listItems } from '../lib/plan/types.ts';
import { acquireRunLock, liveLockOwner } from '../lib/run-lock.ts';
import { UnreadableStateError } from '../lib/state.ts';
import { stopAgents, stopByPidFiles } from './run-command.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** What reset did and what it kept, for its report. */
interface ResetReport {
  stopped: string[];
  removed: string[];
  deleted: string[];
  kept: string[];
  /** Worktrees kept for their uncommitted work (absolute paths): their branches stay with them. */
  keptWorktrees: string[];
}

/** Remove a worktree of the milestone unless it holds uncommitted work: that one is kept (and named). */
async function removeWorktree(repo: string, dir: string, report: ResetReport): Promise<void> {
  if (!existsSync(dir)) return;
  const rel = path.relative(repo, dir);
  if ((await gitRaw(repo, ['worktree', 'remove', dir])).exitCode === 0) return void report.removed.push(rel);
  const dirty = await dirtyPaths(dir).catch(() => ['(unreadable)']);
  // Refused for ignored or excluded files only (the agent lock): nothing of the work is lost.
  if (dirty.length === 0 && (await gitRaw(repo, ['worktree', 'remove', '--force', dir])).exitCode === 0)
    return void report.removed.push(rel);
  report.keptWorktrees.push(dir);
  report.kept.push(
    `worktree ${rel} (${dirty.length ? `uncommitted changes: ${dirty.slice(0, 3).join(', ')}` : 'git worktree remove refused'})`,
  );
}

/** The sha of `ref`, or null when it does not exist. */
async function shaOf(repo: string, ref: string): Promise<string | null> {
  const out = await gitRaw(repo, ['rev-parse', '--verify', '-q', `${ref}^{commit}`]);
  return out.exitCode === 0 ? out.stdout.trim() : null;
}

/**
 * Delete `ref` when main holds its commits (or `alsoSafe`, a ref kept, does): a checked delete, never a forced one.
 * A branch a kept worktree has checked out is kept with it.
 */
async function deleteIfMerged(
  repo: string,
  ref: string,
  report: ResetReport,
  keptWorktrees: ReadonlySet<string>,
  alsoSafe: string | null = null,
): Promise<'deleted' | 'kept' | 'absent'> {
  const sha = await shaOf(repo, ref);
  if (sha === null) return 'absent';
  const name = ref.replace(/^refs\/heads\//, '');
  if (keptWorktrees.has(name)) {
    report.kept.push(`${name} (its worktree is kept)`);
    return 'kept';
  }
  const safe =
    (await isAncestor(repo, sha, `refs/heads/${MAIN_BRANCH}`)) ||
    (alsoSafe !== null && (await shaOf(repo, alsoSafe)) !== null && (await isAncestor(repo, sha, alsoSafe)));
  if (!safe) {
    if (ref.startsWith('refs/heads/')) {
      const count = (await git(repo, ['rev-list', '--count', sha, `^refs/heads/${MAIN_BRANCH}`])).trim();
      report.kept.push(`${name} (${count} commit(s) not on ${MAIN_BRANCH})`);
    } else report.kept.push(`${ref} (its commits are on no kept branch nor ${MAIN_BRANCH})`);
    return 'kept';
  }
  await git(repo, ['update-ref', '-d', ref, sha]);
  if (ref.startsWith('refs/heads/')) report.deleted.push(name);
  return 'deleted';
}

/** Branches checked out in the worktrees reset keeps. */
async function branchesOfKept(repo: string, kept: readonly string[]): Promise<Set<string>> {
  const dirs = new Set(kept.map((k) => path.resolve(k)));
  const out = new Set<string>();
  for (const w of await listWorktrees(repo)) {
    if (dirs.has(path.resolve(w.path)) && w.branch) out.add(w.branch.replace(/^refs\/heads\//, ''));
  }
  return out;
}

/** Stop every agent of the milestone: those state records and those only their pid files show. */
async function stopAll(place: MilestonePlace, io: Io, report: ResetReport): Promise<Ctx | null> {
  let ctx: Ctx | null = null;
  try {
    ctx = await createContext(
      {
        milestone: place.plan.milestone.id,
        cwd: io.cwd,
        repo: place.repo,
        plan: place.plan.file,
        options: DEFAULT_OPTIONS,
        signal: new AbortController().signal,
        env: io.env,
        confirm: () => Promise.resolve(false),
        entry: io.entry,
      },
      place,
    );
  } catch (error) {
    if (!(error instanceof UnreadableStateError)) throw error;
  }
  const stopped = ctx ? await stopAgents(ctx) : { issues: [], sessions: [] };
  const more = await stopByPidFiles(place.stateDir);
  const issues = [...new Set([...stopped.issues, ...more.issues])].sort((a, b) => a - b);
  const sessions = [...new Set([...stopped.sessions, ...more.sessions])];
  report.stopped.push(...issues.map((i) => `#${i}`), ...sessions);
  return ctx;
}

/** Stop the milestone's agents and forget its state; kept branches and worktrees are named. */
export async function resetCommand(milestone: string, flags: Flags, io: Io): Promise<number> {
  const place = await placeOf({ milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const { repo, plan, stateDir } = place;
  const n = plan.milestone.id;
  const owner = liveLockOwner(path.join(stateDir, 'run.lock'));
  if (owner)
    throw new BadInputError(
      `milestone ${n} is being run by pid ${owner.pid} (${owner.command}); stop it first (Ctrl-C, or kill ${owner.pid}), then reset`,
    );
  const yes =
    flags.options.yes ||
    (await io.confirm(`Stop the agents of milestone ${n} and forget its state (unmerged branches are kept)? [y/N] `));
  if (!yes)
    throw new BadInputError(
      `reset of milestone ${n} not confirmed (no TTY, or answered no); nothing changed; to reset without the question: ${commandLine(io.entry, 'reset', [n, '--yes'])}`,
    );
  if (!existsSync(stateDir)) {
    io.out(`milestone ${n} has no state: nothing to reset`);
    return 0;
  }
  const lock = acquireRunLock(stateDir, n, `reset ${n}`);
  const report: ResetReport = { stopped: [], removed: [], deleted: [], kept: [], keptWorktrees: [] };
  try {
    const ctx = await stopAll(place, io, report);
    const stash = ctx?.store.current().prepare;
    await ctx?.store.flush().catch(() => undefined);
    for (const item of listItems(plan)) await removeWorktree(repo, itemWorktreeOf(repo, plan, item), report);
    await removeWorktree(repo, integrationWorktreeOf(repo, plan), report);
    await git(repo, ['worktree', 'prune']);
    const keptWorktrees = await branchesOfKept(repo, report.keptWorktrees);
    for (const item of listItems(plan)) {
      const branch = `refs/heads/${itemBranchOf(plan, item)}`;
      await deleteIfMerged(repo, branch, report, keptWorktrees);
      await deleteIfMerged(repo, `refs/work-milestone/${n}/items/${item.issue}`, report, keptWorktrees, branch);
    }
    await deleteIfMerged(repo, `refs/heads/${plan.milestone.integrationBranch}`, report, keptWorktrees);
    // The worktree root we made goes when nothing else is left in it.
    try {
      rmdirSync(worktreeRootOf(repo, plan));
    } catch {
      // not empty (a kept worktree, someone else's folder) or not there
    }
    rmSync(stateDir, { recursive: true, force: true });
    const lines = [
      `reset milestone ${n}: stopped ${report.stopped.length ? `the agents of ${report.stopped.join(', ')}` : 'no agent (none was running)'}; state forgotten (${path.relative(repo, stateDir)})`,
    ];
    if (report.removed.length) lines.push(`removed worktrees: ${report.removed.join(', ')}`);
    if (report.deleted.length) lines.push(`deleted merged branches: ${report.deleted.join(', ')}`);
    if (report.kept.length) lines.push(`kept: ${report.kept.join('; ')}`);
    if (stash?.kind === 'stashed')
      lines.push(`the stash of your changes made before the run stays: git stash apply ${stash.sha}`);
    lines.push(`the next \`${commandLine(io.entry, 'run', [n])}\` starts milestone ${n} afresh`);
    io.out(lines.join('\n'));
    return 0;
  } finally {
    lock.release();
  }
}
