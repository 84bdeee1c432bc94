/**
 * Items merged into the integration branch that the plan no longer lists (regroomed after their merge): landing would
 * bring their work to main while the report and the backlog (which follow the plan) say nothing of it.
 */
import type { Ctx } from '../engine/context.ts';
import { commandLine } from '../lib/command-words.ts';
import { BadInputError } from '../lib/errors.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { listItems } from '../lib/plan/types.ts';

/** Issues state records merged that the plan no longer lists; none once landed (main has that work already). */
function mergedButDropped(ctx: Ctx): number[] {
  const state = ctx.store.current();
  if (state.complete || state.land) return [];
  const planned = new Set(listItems(ctx.plan).map((item) => String(item.issue)));
  return Object.values(state.items)
    .filter((it) => it.merge?.sha != null && !planned.has(String(it.issue)))
    .map((it) => it.issue);
}

/** Refuse (exit 2, nothing changed) while such items are merged: checked by validate, and by land before it lands. */
export function refuseDroppedMerges(ctx: Ctx): void {
  const dropped = mergedButDropped(ctx);
  if (dropped.length === 0) return;
  const one = dropped.length === 1;
  throw new BadInputError(
    `${dropped.map((i) => `#${i}`).join(', ')} ${one ? 'is' : 'are'} merged into ` +
      `${ctx.plan.milestone.integrationBranch} but no longer in ${ctx.plan.file}: landing would bring ` +
      `${one ? 'its' : 'their'} work to ${MAIN_BRANCH} while the report and the backlog say ` +
      `nothing of it; put ${one ? 'it' : 'them'} back in the plan, or start the milestone over ` +
      `with \`${commandLine(ctx.entry, 'reset', [ctx.plan.milestone.id])}\``,
  );
}
