/** Backlog items the run creates (PARTIAL remainders, escalations), committed on the integration branch so they land with it. */
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

/** Create the item (or find the one a crashed run already created: same title, same milestone) and commit it; returns its number. */
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
    }));
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
