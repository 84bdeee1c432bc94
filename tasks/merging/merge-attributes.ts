/**
 * The attributes the runner's merges run with are the committed ones. git reads `.gitattributes` files from the
 * worktree (before the index) when it merges: one line, `* merge=union`, in an untracked or edited file there turns
 * every conflict into a "clean" merge of both sides' lines, which no conflict class or escalation would ever see. An
 * agent can write one into the integration worktree (only blamed on it when it ran alone). Before each merge pass, an
 * untracked one is moved aside and an edited one put back, both kept in the state folder, with a notice.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { fileStamp, moveEntry } from '../lib/fs-paths.ts';
import { git } from '../lib/git.ts';
import { filesNamed } from '../lib/stray-files.ts';
import { contentChanged } from '../lib/git-index.ts';

/** Where attributes files found before a merge pass are kept, under the milestone's state folder. */
export const ATTRIBUTES_ASIDE = 'attributes-before-merges';

/** Put the integration worktree's `.gitattributes` files back to what is committed (a notice when one was not). */
export async function keepCommittedAttributes(ctx: Ctx): Promise<void> {
  const dir = ctx.integrationWorktree;
  const { tracked: all, untracked } = await filesNamed(dir, '.gitattributes');
  // Regular files only (one that is gone leaves git the index's); a path with a newline cannot go through
  // --stdin-paths (git then merges with it as it is).
  const tracked = all.filter(
    (t) => !t.path.includes('\n') && lstatSync(path.join(dir, t.path), { throwIfNoEntry: false })?.isFile(),
  );
  // A tracked one whose content is not its index blob.
  const edited = await contentChanged(dir, tracked);
  if (untracked.length === 0 && edited.length === 0) return;
  const aside = path.join(ctx.stateDir, ATTRIBUTES_ASIDE, fileStamp());
  for (const file of [...untracked, ...edited]) moveEntry(path.join(dir, file), path.join(aside, file));
  if (edited.length > 0) await git(dir, ['checkout', '--', ...edited]);
  const what = [
    ...(untracked.length > 0 ? [`untracked ${untracked.join(', ')}`] : []),
    ...(edited.length > 0 ? [`edited ${edited.join(', ')}`] : []),
  ].join(' and ');
  ctx.events.emit({
    type: 'notice',
    message:
      `${path.basename(dir)} had ${what}, which would change how the runner's git merges; ` +
      `put back to what is committed before merging (kept in ${aside})`,
  });
}
