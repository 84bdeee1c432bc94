/**
 * Backlog items the run creates (PARTIAL remainders, escalations): file items committed on the integration branch so
 * they land with it; GitHub issues created in the milestone.
 */
import { createHash } from 'node:crypto';
import type { Ctx } from '../engine/context.ts';
import { oneLine } from '../lib/bounded-text.ts';
import { git } from '../lib/git.ts';
import { fitTitle } from '../lib/plan/title.ts';

/** A follow-up to create. */
export interface FollowUp {
  readonly title: string;
  readonly labels: readonly string[];
  readonly sections: Readonly<Record<string, string>>;
  readonly dependsOn?: readonly number[];
}

/** What every follow-up marker of `milestone` starts with (validate tells them from issues added by hand). */
export function followUpMarkerPrefix(milestone: string): string {
  return `work-milestone follow-up: milestone ${milestone},`;
}

/** The marker of a follow-up in its body: the milestone and its title, so a crashed run's item is found again. */
export function followUpMarker(milestone: string, title: string): string {
  const key = createHash('sha256').update(fitTitle(title)).digest('hex').slice(0, 16);
  return `${followUpMarkerPrefix(milestone)} ${key}`;
}

/**
 * Create the item (or find the one a crashed run already created: same title, or its marker, in the same milestone)
 * and, in the file backlog, commit it; returns its number.
 */
export async function createFollowUp(ctx: Ctx, followUp: FollowUp): Promise<number> {
  const backlog = ctx.openBacklog(ctx.integrationWorktree);
  // Written as the groomer writes it: a number when the id is one.
  const milestone = /^\d+$/.test(ctx.plan.milestone.id) ? Number(ctx.plan.milestone.id) : ctx.plan.milestone.id;
  // The backlog stores a fitted title (one line, bounded): compare with that, or a long title is created twice.
  const title = fitTitle(followUp.title);
  const existing = (await backlog.listItems(milestone)).find((i) => i.title === title);
  const item =
    existing ??
    (await backlog.createItem({
      title: followUp.title,
      milestone,
      labels: followUp.labels,
      dependsOn: followUp.dependsOn ?? [],
      sections: followUp.sections,
      marker: followUpMarker(ctx.plan.milestone.id, followUp.title),
    }));
  // GitHub issues are written where they live; only file items are committed to land with the milestone.
  if (backlog.kind !== 'file') return item.issue;
  const status = await git(ctx.integrationWorktree, ['status', '--porcelain', '--', item.source]);
  if (status !== '') {
    await git(ctx.integrationWorktree, ['add', '--', item.source]);
    await git(ctx.integrationWorktree, [
      'commit',
      '-q',
      '-m',
      `backlog: add #${item.issue} ${oneLine(followUp.title).slice(0, 120)}`,
      '--',
      item.source,
    ]);
  }
  return item.issue;
}
