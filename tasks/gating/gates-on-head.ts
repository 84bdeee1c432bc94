/**
 * Gates in the integration worktree judge its HEAD: green is recorded for that sha, and that sha's tree is what lands.
 * So every gate run starts on exactly that tree (docs/guarantees.md, 1).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { integrationHead } from '../guards/refs-guard.ts';
import { noteLeftProcesses, runGates, type GatesRun } from './gate-run.ts';
import type { PhasedGate } from './bisect-run.ts';
import { git, gitRaw } from '../lib/git.ts';
import { streamGitLines } from '../lib/git-lines.ts';
import { NeedsAttentionError } from '../lib/errors.ts';
import { brokenWorktree, sameFolder } from '../lib/worktree-repair.ts';
import { filesNamed } from '../lib/stray-files.ts';
import { moveEntry } from '../lib/fs-paths.ts';
import { runnerExcludePatterns } from '../lib/exclude.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { firstOf } from '../lib/bounded-text.ts';
import { exposeChangesBehindStat } from './stat-cache.ts';
import { gitDirOf } from '../lib/git-files.ts';
import { checkTrustedDependencies } from '../guards/dependency-guard.ts';
import { moveShadowsAside, recordGatesDependencies } from '../guards/shadow-folders.ts';
import type { GateResult } from '../lib/state-types.ts';

/** The patch files of what was put back, in the gate run's log folder: found before the gates, left by them. */
export const PUT_BACK_PATCH = { before: 'put-back-before-gates.patch', after: 'changed-by-gates.patch' } as const;

/** Where untracked files found before a gate run are kept, in its log folder. */
export const UNTRACKED_ASIDE = 'untracked-before-gates';

/** The most untracked entries (a file, or a whole untracked folder) moved aside; more stops the gates step. */
const MAX_MOVED_ASIDE = 10_000;

/**
 * The untracked entries of `dir` (an untracked folder is one entry, `--directory`: moved whole) that `excludes` do
 * not name, at most MAX_MOVED_ASIDE (and whether there were more).
 */
async function untrackedEntries(
  dir: string,
  excludes: readonly string[],
): Promise<{ readonly entries: readonly string[]; readonly more: boolean }> {
  const entries: string[] = [];
  let more = false;
  await streamGitLines(
    dir,
    ['ls-files', '--others', '--directory', '-z', ...excludes],
    (entry) => {
      if (entry === '') return;
      if (entries.length < MAX_MOVED_ASIDE) entries.push(entry.replace(/\/$/, ''));
      else more = true;
    },
    { separator: '\0' },
  );
  return { entries, more };
}

/**
 * Untracked files nobody committed (not ignored) are not in the tree that lands, and a gate may still read them: a
 * config that turns a check off, a test double, a `conftest.py`. An agent can leave one in the integration worktree
 * (blamed on it only when it ran alone). Before a gate run they are moved aside, kept in the run's log folder. What
 * the committed `.gitignore` files name (dependencies, build output, the gates' own output) stays, and so do the
 * runner's own patterns (`/node_modules` …); not what only `.git/info/exclude` or a global excludes file names, nor
 * an untracked `.gitignore`: an agent can write those (one that ignores itself hid a file from this very listing).
 * What the gates leave is not moved after them: a fix agent may need it.
 */
async function moveUntrackedAside(ctx: Ctx, logDir: string): Promise<void> {
  const dir = ctx.integrationWorktree;
  const aside = path.join(logDir, UNTRACKED_ASIDE);
  const tooMany = () =>
    new NeedsAttentionError(
      `${dir} holds more than ${MAX_MOVED_ASIDE} untracked files or folders that nobody committed; the gates would ` +
        `read them, and they are not in the tree that lands; look with: git -C ${dir} status --short; remove them ` +
        `(git -C ${dir} clean -fd), then run again`,
    );
  // Untracked ignore files go first: git reads their rules even for a listing that leaves them out.
  const ignoreFiles = (await filesNamed(dir, '.gitignore')).untracked;
  for (const file of ignoreFiles) moveEntry(path.join(dir, file), path.join(aside, file));
  // Without the worktree root's pattern, which names a folder of the user's checkout.
  const runnerPatterns = runnerExcludePatterns(ctx.repo, ctx.repo);
  const rest = await untrackedEntries(dir, [
    '--exclude-per-directory=.gitignore',
    ...runnerPatterns.map((p) => `--exclude=${p}`),
  ]);
  if (rest.more) throw tooMany();
  const entries = [...ignoreFiles, ...rest.entries];
  if (entries.length === 0) return;
  for (const entry of rest.entries) moveEntry(path.join(dir, entry), path.join(aside, entry));
  const names = firstOf(entries);
  ctx.events.emit({
    type: 'notice',
    message:
      `${path.basename(dir)} had untracked files nobody committed: ${names}: moved aside before the gates, so they ` +
      `check the tree that lands; they are in ${aside}`,
  });
}

/**
 * Clear `assume-unchanged` marks in `dir`'s index: git does not look at a marked file, so an edit to it is in no
 * `git status` and would reach the gates. The runner never sets them; `ls-files -v` tags them in lower case. Files
 * hidden from the checkout (`S`: sparse-checkout, skip-worktree) are brought back unless the user's checkout is sparse.
 */
async function unhide(ctx: Ctx, dir: string): Promise<void> {
  const listed = await gitRaw(dir, ['ls-files', '-v', '-z']);
  const entries = listed.stdout.split('\0');
  const marked = entries.filter((e) => /^[a-z] /.test(e)).map((e) => e.slice(2));
  if (marked.length > 0)
    await git(dir, ['update-index', '--no-assume-unchanged', '-z', '--stdin'], { input: `${marked.join('\0')}\0` });
  const hidden = entries.filter((e) => /^[Ss] /.test(e)).map((e) => e.slice(2));
  if (hidden.length > 0) await makeWhole(ctx, dir, hidden);
}

const isSparse = async (dir: string) =>
  (await gitRaw(dir, ['config', '--get', '--bool', 'core.sparseCheckout'])).stdout.trim() === 'true';

/**
 * A checkout with files left out (a sparse-checkout an agent set there, skip-worktree marks) would have the gates
 * check part of the tree that lands, and a gate that finds nothing to check passes. Sparseness is the user's only
 * when the checkout the runner runs from is sparse (git then gives every new worktree its patterns): else the
 * worktree is made whole, and the files come back as the put-back that follows restores them.
 */
async function makeWhole(ctx: Ctx, dir: string, hidden: readonly string[]): Promise<void> {
  if (await isSparse(ctx.repo)) return;
  if (await isSparse(dir)) await git(dir, ['sparse-checkout', 'disable']);
  await git(dir, ['update-index', '--no-skip-worktree', '-z', '--stdin'], { input: `${hidden.join('\0')}\0` });
  const names = firstOf(hidden);
  ctx.events.emit({
    type: 'notice',
    message:
      `${path.basename(dir)} had files hidden from its checkout (sparse-checkout or skip-worktree; yours is not ` +
      `sparse): ${names}: made whole before the gates, so they check the tree that lands`,
  });
}

/**
 * Put the integration worktree's tracked files back to HEAD when anything changed them. Before a gate run: a process
 * an agent left behind, an edit made by hand, a run cut short. After it: what the gates rewrote (a formatter, a lock
 * file), which must not reach the next run (a red gate's second run would check its own rewrite) nor a fix agent
 * (whose leftovers are committed as its fix). The changes are kept as a patch (`git apply` brings them back) and
 * named in a notice; untracked files (build output) stay.
 */
async function putBackHead(ctx: Ctx, logDir: string, when: 'before' | 'after'): Promise<void> {
  const dir = ctx.integrationWorktree;
  if (when === 'before') await unhide(ctx, dir);
  await putBackTracked(ctx, logDir, when);
  if (when === 'before') await moveUntrackedAside(ctx, logDir);
}

/** The tracked part of `putBackHead`: changes kept as a patch, then `reset --hard`. */
async function putBackTracked(ctx: Ctx, logDir: string, when: 'before' | 'after'): Promise<void> {
  const dir = ctx.integrationWorktree;
  // Before the gates, by content: a write that git's stat cache hides is made visible to the status below.
  if (when === 'before') await exposeChangesBehindStat(dir);
  const changed = await dirtyPaths(dir, { untracked: false });
  if (changed.length === 0) return;
  await mkdir(logDir, { recursive: true });
  const patch = path.join(logDir, PUT_BACK_PATCH[when]);
  // Written by git itself: the files' bytes as they are, whatever their encoding.
  await gitRaw(dir, ['diff', '--binary', '--no-textconv', '--no-ext-diff', `--output=${patch}`, 'HEAD']);
  await git(ctx.integrationWorktree, ['reset', '-q', '--hard', 'HEAD']);
  const names = firstOf(changed);
  const what =
    when === 'before'
      ? `${path.basename(dir)} had uncommitted changes to ${names}: put back to HEAD before the gates, so they check the tree that lands`
      : `the gates changed ${names} in ${path.basename(dir)}: put back to HEAD, so the next gate run and a fix agent start on the tree`;
  ctx.events.emit({ type: 'notice', message: `${what}; the changes are in ${patch}` });
}

/**
 * Run `gates` on the integration worktree's HEAD: its tracked files are put back to HEAD before and after
 * the run, so every run, a red gate's second run too, checks the tree green is recorded for. Nothing is done when there
 * is no gate.
 */
export async function runGatesOnHead(
  ctx: Ctx,
  gates: readonly PhasedGate[],
  logDir: string,
  onResult?: (r: GateResult) => void,
): Promise<GatesRun> {
  const dir = ctx.integrationWorktree;
  if (gates.length === 0) {
    // Nothing to check, but landing reads the backlog files from this checkout: a sparse one (an agent's
    // sparse-checkout leaves its patterns file) would stop every landing. No git call otherwise.
    const gitDir = gitDirOf(dir);
    if (gitDir && existsSync(path.join(gitDir, 'info', 'sparse-checkout'))) await putBackHead(ctx, logDir, 'before');
    return runGates(gates, dir, logDir, ctx.env, onResult);
  }
  await assertGitWorksHere(ctx);
  await checkTrustedDependencies(ctx, 'before');
  await putBackHead(ctx, logDir, 'before');
  await moveShadowsAside(ctx, logDir);
  assertOwnWorktree(ctx, 'before');
  const head = await integrationHead(ctx);
  const result = await runGates(gates, dir, logDir, ctx.env, onResult);
  await recordGatesDependencies(ctx);
  noteLeftProcesses(ctx.events, result);
  // What git read in it during the run must have been this repository's: else the verdict is about another tree.
  assertOwnWorktree(ctx, 'while');
  await assertHeadKept(ctx, head);
  // And the packages the gates resolved the ones trusted.
  await checkTrustedDependencies(ctx, 'while');
  await putBackHead(ctx, logDir, 'after');
  return result;
}

/**
 * Stop when git in the integration worktree works on another folder than the one the gates run in (`core.worktree`,
 * which the config guard already stops on, or any other way): whatever git merged and put back would not be what the
 * gates check.
 */
async function assertGitWorksHere(ctx: Ctx): Promise<void> {
  const dir = ctx.integrationWorktree;
  const top = await git(dir, ['rev-parse', '--show-toplevel']);
  if (sameFolder(top, dir)) return;
  throw new NeedsAttentionError(
    `git in the integration worktree ${dir} works on ${top} instead (core.worktree?; not set by the runner); the ` +
      `gates would check files git did not merge; look with: git -C ${dir} config --show-origin --get core.worktree; ` +
      'undo it, then run again',
  );
}

/**
 * Stop when HEAD moved while the gates ran (a test script that commits, a process at work meanwhile): the verdict
 * would be recorded for a sha whose tree the gates may not have checked, and what was committed was never judged.
 * The branch is put back to the sha the gates started on; what was committed is named, and kept in the reflog.
 */
async function assertHeadKept(ctx: Ctx, head: string): Promise<void> {
  const now = await integrationHead(ctx);
  if (now === head) return;
  const dir = ctx.integrationWorktree;
  await git(ctx.integrationWorktree, ['reset', '-q', '--hard', head]);
  throw new NeedsAttentionError(
    `the integration branch moved from ${head.slice(0, 10)} to ${now.slice(0, 10)} while the gates ran ` +
      `(a gate, or something it started, committed there; not the runner); put back to ${head.slice(0, 10)}, ` +
      `and their result is not used; look with: git -C ${dir} log --stat ${head}..${now}; a gate must not commit: ` +
      'change it, then run again',
  );
}

/**
 * Stop when the integration worktree is no sound worktree of this repository (`brokenWorktree`: its `.git` file
 * pointed elsewhere) right before or after a gate run: the refs guard repairs it before each operation, so this is
 * someone at work in between, and a gate verdict then says nothing about the sha it would be recorded for.
 */
function assertOwnWorktree(ctx: Ctx, when: 'before' | 'while'): void {
  const broken = brokenWorktree(ctx.commonDir, ctx.integrationWorktree);
  if (broken === null) return;
  throw new NeedsAttentionError(
    `the integration worktree ${ctx.integrationWorktree} ${broken} ${when === 'before' ? 'just before' : 'after'} ` +
      'the gates ran (not by the runner); their result is not used; run again: the runner makes it again first',
  );
}
