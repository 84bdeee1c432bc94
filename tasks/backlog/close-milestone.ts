/**
 * The backlog's side of `complete`, as the seed's `/complete-milestone` does it: landed items closed with the landed
 * sha, the milestone closed when nothing of it is open, and the `Completed x/y (pct%)` summary with what carries over.
 */
import { oneLine } from '../lib/bounded-text.ts';
import type { Ctx } from '../engine/context.ts';
import { listItems } from '../lib/plan/types.ts';

/** What closing did: the summary line, and the open items carried over. */
export interface MilestoneSummary {
  readonly line: string;
  readonly carriedOver: readonly string[];
  readonly milestoneClosed: boolean;
}

/**
 * Close the landed items and, when none is open, the milestone (GitHub; the file backlog marked its items done in the
 * landing commit already). Idempotent: closed items and a closed milestone are left alone.
 */
export async function closeLandedItems(ctx: Ctx): Promise<MilestoneSummary> {
  const state = ctx.store.current();
  const landed = listItems(ctx.plan).filter((i) => state.items[String(i.issue)]?.merge?.sha != null);
  const backlog = ctx.openBacklog(ctx.repo);
  // Issues are closed only once main is on GitHub: an unpushed landing is nothing anyone else can see yet.
  const pushed = state.land?.pushed === true;
  if (backlog.kind === 'github' && pushed && state.land)
    for (const item of landed) await backlog.closeItem(item.issue, state.land.mainAfter);
  // A file backlog with a broken item file must not fail a completed landing: the plan's items are counted then.
  const inBacklog =
    backlog.kind === 'github'
      ? await backlog.listItems(ctx.plan.milestone.id)
      : await backlog.listItems(ctx.plan.milestone.id).catch(() => []);
  const landedSet = new Set(landed.map((i) => i.issue));
  const titles = new Map<number, string>(listItems(ctx.plan).map((i) => [i.issue, i.title]));
  for (const i of inBacklog) titles.set(i.issue, i.title);
  const done = new Set(inBacklog.filter((i) => i.status === 'done').map((i) => i.issue));
  for (const issue of landedSet) done.add(issue);
  const open = [...titles.keys()].filter((n) => !done.has(n)).sort((a, b) => a - b);
  const milestoneClosed = backlog.kind === 'github' && pushed && (await backlog.closeMilestone(ctx.plan.milestone.id));
  const total = titles.size;
  const pct = total === 0 ? 100 : Math.floor((done.size * 100) / total);
  return {
    line: `Completed ${done.size}/${total} (${pct}%)`,
    carriedOver: open.map((n) => `#${n} ${oneLine(titles.get(n) ?? '').slice(0, 80)}`),
    milestoneClosed,
  };
}
