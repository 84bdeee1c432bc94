/**
 * The runner's lines in `.git/info/exclude` kept there. Without them the user's checkout shows the runner's worktree
 * folder as untracked: every judging flags it as written while agents ran, and landing refuses the checkout as
 * dirty, telling the user to commit or stash the runner's own worktrees. Agents run as the same user and can empty
 * the file.
 */
import type { Ctx } from '../engine/context.ts';
import { ensureExcluded, runnerExcludePatterns } from '../lib/exclude.ts';
import { worktreeRootOf } from '../lib/paths.ts';

/**
 * Add the runner's exclude lines that are missing; with `notify`, a notice says which came back (they were there since
 * the branch step).
 */
export async function keepRunnerExcludes(ctx: Ctx, notify = true): Promise<void> {
  const added = await ensureExcluded(
    ctx.commonDir,
    runnerExcludePatterns(ctx.repo, worktreeRootOf(ctx.repo, ctx.plan)),
  );
  if (notify && added.length > 0)
    ctx.events.emit({
      type: 'notice',
      message: `.git/info/exclude had lost the runner's lines (${added.join(', ')}); added them again`,
    });
}
