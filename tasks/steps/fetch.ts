/** fetch: read every item once from the backlog and cache it in state; later steps use the cache only. */
import { existsSync } from 'node:fs';
import { BadInputError } from '../lib/errors.ts';
import { listItems } from '../lib/plan/types.ts';
import { DONE, todo, type Step } from '../engine/step.ts';

/** fetch step. */
export const fetchBacklog: Step = {
  id: 'fetch',
  async check(ctx) {
    const cache = ctx.store.current().cache;
    const missing = listItems(ctx.plan).filter((i) => !cache[String(i.issue)]);
    return missing.length === 0 ? DONE : todo(`${missing.length} item(s) not fetched`);
  },
  async run(ctx, _scope, progress) {
    // The integration worktree holds what agents will see; the user's checkout is the fallback for uncommitted items.
    const roots = existsSync(ctx.integrationWorktree) ? [ctx.integrationWorktree, ctx.repo] : [ctx.repo];
    const cache = ctx.store.current().cache;
    for (const item of listItems(ctx.plan)) {
      if (cache[String(item.issue)]) continue;
      let found;
      for (const root of roots) {
        found = await ctx.openBacklog(root).readItem(item.issue);
        if (found) break;
      }
      if (!found)
        throw new BadInputError(`#${item.issue} is not in the backlog; regroom milestone ${ctx.plan.milestone.id}`);
      const { issue, title, source, sections, body, labels, priority } = found;
      await ctx.store.update((s) => {
        s.cache[String(issue)] = {
          issue,
          title,
          source,
          sections: { ...sections },
          body,
          labels: [...labels],
          priority,
        };
      });
      progress.output(`#${issue} ${title}`);
    }
  },
};
