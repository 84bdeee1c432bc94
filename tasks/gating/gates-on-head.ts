/**
 * Gates in the integration worktree judge its HEAD: green is recorded for that sha, and that sha's tree is what lands.
 * So every gate run starts on exactly that tree (docs/guarantees.md, 1).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { runGates } from './gate-run.ts';
import type { PhasedGate } from './bisect-run.ts';
import { git, gitRaw } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import type { GateResult } from '../lib/state-types.ts';

/** The patch files of what was put back, in the gate run's log folder: found before the gates, left by them. */
export const PUT_BACK_PATCH = { before: 'put-back-before-gates.patch', after: 'changed-by-gates.patch' } as const;

/**
 * Clear `assume-unchanged` marks in `dir`'s index: git does not look at a marked file, so an edit to it is in no
 * `git status` and would reach the gates. The runner never sets them; `ls-files -v` tags them in lower case.
 */
async function unhide(dir: string): Promise<void> {
  const listed = await gitRaw(dir, ['ls-files', '-v', '-z']);
  const marked = listed.stdout
    .split('\0')
    .filter((e) => /^[a-z] /.test(e))
    .map((e) => e.slice(2));
  if (marked.length === 0) return;
  await git(dir, ['update-index', '--no-assume-unchanged', '-z', '--stdin'], { input: `${marked.join('\0')}\0` });
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
  if (when === 'before') await unhide(dir);
  const changed = await dirtyPaths(dir, { untracked: false });
  if (changed.length === 0) return;
  await mkdir(logDir, { recursive: true });
  const patch = path.join(logDir, PUT_BACK_PATCH[when]);
  // Written by git itself: the files' bytes as they are, whatever their encoding.
  await gitRaw(dir, ['diff', '--binary', '--no-textconv', '--no-ext-diff', `--output=${patch}`, 'HEAD']);
  await git(ctx.integrationWorktree, ['reset', '-q', '--hard', 'HEAD']);
  const names = `${changed.slice(0, 5).join(', ')}${changed.length > 5 ? `, and ${changed.length - 5} more` : ''}`;
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
): Promise<{ readonly green: boolean; readonly results: readonly GateResult[] }> {
  const dir = ctx.integrationWorktree;
  if (gates.length === 0) return runGates(gates, dir, logDir, ctx.env, onResult);
  await putBackHead(ctx, logDir, 'before');
  const result = await runGates(gates, dir, logDir, ctx.env, onResult);
  await putBackHead(ctx, logDir, 'after');
  return result;
}
