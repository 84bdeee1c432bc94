/**
 * What one pass of the merge queue reads once instead of once per item (docs/performance.md, "Git calls"): earlier
 * merges of the milestone, the pins and branches of the queued items, and ancestry of many merges at once.
 */
import type { Ctx } from '../engine/context.ts';
import { git, gitRaw, isAncestor } from '../lib/git.ts';
import { pinsPrefixOf } from '../guards/refs-guard.ts';

/** Integration commits since the milestone's base by subject (`Merge #42: …` → sha), to find merges after a crash. */
export async function readEarlierMerges(ctx: Ctx): Promise<ReadonlyMap<string, string>> {
  const found = new Map<string, string>();
  const base = ctx.store.current().branch?.base;
  if (!base) return found;
  const log = await git(ctx.integrationWorktree, ['log', '--format=%H%x09%s', `${base}..HEAD`]);
  // Newest first: the first commit with a subject is the one kept, as a search from the top would find it.
  for (const line of log.split('\n'))
    if (line.length > 41 && !found.has(line.slice(41))) found.set(line.slice(41), line.slice(0, 40));
  return found;
}

/** The integration worktree's HEAD and the refs (full name → sha) of the queued items' pins and branches. */
export interface QueueFacts {
  readonly head: string;
  readonly refs: ReadonlyMap<string, string>;
}

/**
 * One `rev-parse HEAD` (none when the caller knows it: the tip the refs guard just checked, at the start of a pass)
 * and one `for-each-ref` for the whole queue. git lists only refs whose objects exist, so a sha found here is a
 * commit git still has.
 */
export async function readQueueFacts(
  ctx: Ctx,
  branches: readonly string[],
  knownHead: string | null = null,
): Promise<QueueFacts> {
  const head = knownHead ?? (await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']));
  const out = await git(ctx.repo, [
    'for-each-ref',
    '--format=%(objectname) %(refname)',
    pinsPrefixOf(ctx),
    ...branches.map((b) => `refs/heads/${b}`),
  ]);
  const refs = new Map<string, string>();
  for (const line of out.split('\n')) if (line.length > 41) refs.set(line.slice(41), line.slice(0, 40));
  return { head, refs };
}

/**
 * Whether every sha of `shas` is an ancestor of (or equal to) `head`: one `merge-base --independent` (its answer is
 * `head` alone exactly then). Anything else (a sha git does not have, one off `head`) is answered per sha.
 */
export async function allAncestors(repo: string, shas: readonly string[], head: string): Promise<boolean> {
  if (shas.length === 0) return true;
  if (shas.length === 1) return isAncestor(repo, shas[0] as string, head);
  const out = await gitRaw(repo, ['merge-base', '--independent', head, ...shas]);
  return out.exitCode === 0 && out.stdout.trim() === head;
}
