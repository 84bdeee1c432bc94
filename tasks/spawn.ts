/** spawn (per wave, per item): start the item's agent detached; the handle is recorded in state. */
import { startItemAgent } from './item-agent.ts';
import { DONE, todo, type Step } from './step.ts';
import { isTerminal, scopedItems, skipBlockedItems, statusOf, waveConcurrency, waveOf } from './wave-items.ts';

/** spawn step: with --item one agent; for a wave, as many as the concurrency allows (wait starts the rest). */
export const spawn: Step = {
  id: 'spawn',
  async check(ctx, scope) {
    for (const item of scopedItems(ctx, scope)) {
      if (!isTerminal(ctx, item.issue) && statusOf(ctx, item.issue) !== 'in-progress') return todo(`#${item.issue} not started`);
    }
    return DONE;
  },
  async run(ctx, scope, progress) {
    const wave = waveOf(ctx, scope);
    await skipBlockedItems(ctx, wave);
    const running = wave.items.filter((i) => statusOf(ctx, i.issue) === 'in-progress').length;
    let free = waveConcurrency(ctx, wave).limit - running;
    for (const item of scopedItems(ctx, scope)) {
      if (statusOf(ctx, item.issue) !== 'pending') continue;
      if (free <= 0 && scope.issue === undefined) break;
      await startItemAgent(ctx, item);
      free--;
      progress.output(`#${item.issue} started`);
    }
  },
};
