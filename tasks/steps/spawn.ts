/** spawn (per wave, per item): start the item's agent detached; the handle is recorded in state. */
import type { Ctx } from '../engine/context.ts';
import { startItemAgent } from '../items/item-agent.ts';
import { DONE, todo, type Scope, type Step } from '../engine/step.ts';
import { scopedItems, skipBlockedItems, statusOf, waveConcurrency, waveOf } from '../items/wave-items.ts';

/** How many agents of the scope's wave run now, and how many may. */
function slotsOf(ctx: Ctx, scope: Scope): { readonly running: number; readonly limit: number } {
  const wave = waveOf(ctx, scope);
  return {
    running: wave.items.filter((i) => statusOf(ctx, i.issue) === 'in-progress').length,
    limit: waveConcurrency(ctx, wave).limit,
  };
}

/** spawn step: with --item one agent; for a wave, as many as the concurrency allows (wait starts the rest). */
export const spawn: Step = {
  id: 'spawn',
  async check(ctx, scope) {
    const pending = scopedItems(ctx, scope).filter((i) => statusOf(ctx, i.issue) === 'pending');
    if (pending.length === 0) return DONE;
    if (scope.issue !== undefined) return todo(`#${scope.issue} not started`);
    // A wave's spawn is done once its slots are full: the items beyond the concurrency are wait's to start.
    const { running, limit } = slotsOf(ctx, scope);
    return running >= limit ? DONE : todo(`${pending.length} item(s) not started, ${running} of ${limit} slot(s) busy`);
  },
  async run(ctx, scope, progress) {
    await skipBlockedItems(ctx, waveOf(ctx, scope));
    const { running, limit } = slotsOf(ctx, scope);
    let free = limit - running;
    for (const item of scopedItems(ctx, scope)) {
      if (statusOf(ctx, item.issue) !== 'pending') continue;
      if (free <= 0 && scope.issue === undefined) break;
      await startItemAgent(ctx, item);
      free--;
      progress.output(`#${item.issue} started`);
    }
  },
};
