/**
 * What one pass of the merge queue reads once instead of once per item (docs/performance.md, "Git calls"): earlier
 * merges of the milestone, the pins and branches of the queued items, and ancestry of many merges at once.
 */
import type { Ctx } from '../engine/context.ts';
import { git, gitRaw, isAncestor } from '../lib/git.ts';
import { pinsPrefixOf } from '../guards/refs-guard.ts';
import { looseFirstParentLog, onFirstParentChain } from '../lib/git-objects.ts';

/** Commits walked from loose objects at most, before `git log` is asked instead. */
const LOOSE_WALK_LIMIT = 2000;

/**
 * Integration commits since the milestone's base by subject (`Merge #42: …` → sha), to find merges after a crash.
 * `settled`: the pass starts at the tip the runner recorded after its last whole operation (none cut short, none
 * adopted): the runner's merges are then on its first-parent chain, read from loose objects when they all are.
 */
export async function readEarlierMerges(ctx: Ctx, settled: string | null = null): Promise<ReadonlyMap<string, string>> {
  const found = new Map<string, string>();
  const base = ctx.store.current().branch?.base;
  if (!base) return found;
  const walked = settled ? looseFirstParentLog(ctx.commonDir, settled, base, LOOSE_WALK_LIMIT) : null;
  if (walked) {
    for (const c of walked) if (!found.has(c.subject)) found.set(c.subject, c.sha);
    return found;
  }
  const log = await git(ctx.integrationWorktree, ['log', '--format=%H%x09%s', `${base}..HEAD`]);
  // Newest first: the first commit with a subject is the one kept, as a search from the top would find it.
  for (const line of log.split('\n'))
    if (line.length > 41 && !found.has(line.slice(41))) found.set(line.slice(41), line.slice(0, 40));
  return found;
}

/** The integration worktree's HEAD and the refs (full name → sha) of the queued items' pins and branches. */
export interface QueueFacts {
  readonly head: string;
  /** Read on first use, once for the pass: a judged sha its branch's loose ref file holds needs none. */
  readonly refs: () => Promise<ReadonlyMap<string, string>>;
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
  let read: Promise<ReadonlyMap<string, string>> | null = null;
  const readRefs = async (): Promise<ReadonlyMap<string, string>> => {
    const out = await git(ctx.repo, [
      'for-each-ref',
      '--format=%(objectname) %(refname)',
      pinsPrefixOf(ctx),
      ...branches.map((b) => `refs/heads/${b}`),
    ]);
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) if (line.length > 41) refs.set(line.slice(41), line.slice(0, 40));
    return refs;
  };
  return { head, refs: () => (read ??= readRefs()) };
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

/**
 * The items whose recorded merge is not in `head`'s history: none while integration only grew (merges, main brought
 * in, fixes, backlog commits on top; an ejection records the rebuilt merges). One that is missing was rewound or
 * rewritten by someone else (a fix or conflict agent that ran `git reset`), and landing `head` would drop judged work
 * that state and the report call merged. No git call when they are loose commits on the first-parent chain.
 */
export async function mergesNotIn(ctx: Ctx, head: string): Promise<number[]> {
  const merged = Object.values(ctx.store.current().items).flatMap((i) =>
    i.merge?.sha ? [{ issue: i.issue, sha: i.merge.sha }] : [],
  );
  const shas = [...new Set(merged.map((m) => m.sha))];
  if (shas.length === 0 || onFirstParentChain(ctx.commonDir, head, shas, 4 * shas.length + 16)) return [];
  if (await allAncestors(ctx.repo, shas, head)) return [];
  const missing: number[] = [];
  for (const m of merged) if (!(await isAncestor(ctx.repo, m.sha, head))) missing.push(m.issue);
  return missing.sort((a, b) => a - b);
}
