/** wait (per wave): drive every item to an end: start what is pending (within the slots), watch, time out, retry. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ctx } from '../engine/context.ts';
import { finishItemAttempt, forgetUnstartedAttempt, pollItemAgent, startItemAgent } from '../items/item-agent.ts';
import { InterruptedError, NeedsAttentionError } from '../lib/errors.ts';
import type { PlanItem, PlanWave } from '../lib/plan/types.ts';
import { createSlots, type Slots } from '../lib/slots.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { isTerminal, scopedItems, skipBlockedItems, statusOf, waveConcurrency, waveOf } from '../items/wave-items.ts';

const POLL_MS = 200;

/** Shared by the items of one wave while they run. */
export interface WaveRun {
  readonly slots: Slots;
  /** Set when scheduling must stop (--fail-fast, interruption). */
  stopped: boolean;
}

/** Start the slots of a wave, and say when memory is what limits them. */
export function startWaveRun(ctx: Ctx, wave: PlanWave): WaveRun {
  const { limit, byMemory } = waveConcurrency(ctx, wave);
  if (byMemory)
    ctx.events.emit({
      type: 'notice',
      message: `wave ${wave.wave}: at most ${limit} agent(s) at once: free memory allows no more (2 GiB each)`,
    });
  return { slots: createSlots(limit), stopped: false };
}

/** Drive one item until its agent work is over (or scheduling stops). */
export async function driveItem(ctx: Ctx, item: PlanItem, run: WaveRun, progress: Progress): Promise<void> {
  while (!isTerminal(ctx, item.issue)) {
    // The slot is taken first (agents re-attached from a previous run queue first, see driveWave).
    const release = await run.slots.acquire();
    try {
      if (statusOf(ctx, item.issue) === 'pending') {
        if (run.stopped || ctx.signal.aborted) return;
        await startItemAgent(ctx, item);
      }
      const startedAt = Date.now();
      let lastLine = '';
      for (;;) {
        // Interrupted: leave the agent for a later `run` to re-attach to. Checked before looking: an agent a second
        // Ctrl-C is killing would otherwise be judged here as died (failed) while `stopAgents` makes it pending.
        if (ctx.signal.aborted) return;
        const state = await pollItemAgent(ctx, item.issue);
        if (state.kind === 'not-started') {
          await forgetUnstartedAttempt(ctx, item.issue);
          break;
        }
        if (state.kind !== 'running') {
          const next = await finishItemAttempt(ctx, item, state);
          if (next === 'final' && statusOf(ctx, item.issue) === 'failed' && ctx.options.failFast) run.stopped = true;
          break;
        }
        const st = ctx.store.current().items[String(item.issue)];
        // Every 10 s: line-based renderers (CI, pipes) print each change.
        const line = `in progress (attempt ${st?.attempts ?? 1}, ${Math.floor((Date.now() - startedAt) / 10_000) * 10}s)`;
        if (line !== lastLine) progress.output((lastLine = line));
        await sleep(POLL_MS);
      }
    } finally {
      release();
    }
  }
}

/** Drive all items of a wave concurrently. */
export async function driveWave(
  ctx: Ctx,
  wave: PlanWave,
  items: readonly PlanItem[],
  progress: Progress,
): Promise<void> {
  await skipBlockedItems(ctx, wave);
  const run = startWaveRun(ctx, wave);
  // Items already in progress (re-attached) take their slots before pending ones.
  const ordered = [...items].sort(
    (a, b) => Number(statusOf(ctx, b.issue) === 'in-progress') - Number(statusOf(ctx, a.issue) === 'in-progress'),
  );
  await Promise.all(ordered.map((item) => driveItem(ctx, item, run, progress)));
  if (ctx.signal.aborted)
    throw new InterruptedError('interrupted; agents still running were left alive: run again to re-attach');
  if (run.stopped) throw new NeedsAttentionError(`wave ${wave.wave}: stopped at the first failed item (--fail-fast)`);
}

/** wait step. */
export const wait: Step = {
  id: 'wait',
  async check(ctx, scope) {
    const open = scopedItems(ctx, scope).filter((i) => !isTerminal(ctx, i.issue));
    return open.length === 0 ? DONE : todo(`${open.length} item(s) still to finish`);
  },
  async run(ctx, scope, progress) {
    await driveWave(ctx, waveOf(ctx, scope), scopedItems(ctx, scope), progress);
  },
};
