/** wait (per wave): drive every item to an end: start what is pending (within the slots), watch, time out, retry. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ctx } from '../engine/context.ts';
import { createRankedSlots, type RankedSlots } from '../engine/ranked-slots.ts';
import {
  finishItemAttempt,
  forgetUnstartedAttempt,
  itemAgentEnded,
  pollItemAgent,
  startItemAgent,
} from '../items/item-agent.ts';
import { itemConcurrency } from '../items/agent-settings.ts';
import { InterruptedError, NeedsAttentionError } from '../lib/errors.ts';
import { listItems, type PlanItem, type PlanWave } from '../lib/plan/types.ts';
import { assertWithinBudget } from '../lib/run-budget.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { isTerminal, scopedItems, skipBlockedItem, statusOf, waveConcurrency, waveOf } from '../items/wave-items.ts';

const POLL_MS = 200;

/** Until the next look at a running agent: POLL_MS, or sooner when its process (one this runner started) exits. */
async function nextLook(ended: Promise<void> | null): Promise<void> {
  if (!ended) return sleep(POLL_MS);
  const timer = new AbortController();
  await Promise.race([sleep(POLL_MS, undefined, { signal: timer.signal }).catch(() => undefined), ended]);
  timer.abort();
}

/** What items driven together share: their agent slots, and whether scheduling stopped. */
export interface ItemLane {
  readonly slots: RankedSlots;
  /** True once no further agent may start (interruption, --fail-fast, an error elsewhere in the run). */
  stopped(): boolean;
  /** Called when an item failed for good under --fail-fast. */
  failFast(): void;
  /**
   * Judge an ended attempt with nothing else writing into the integration worktree: its guards blame an agent for
   * what changed there while it ran (a dag run merges while agents run; a wave's merges come after its agents).
   */
  judge<T>(fn: () => Promise<T>): Promise<T>;
}

/** Judging as is: nothing writes into the integration worktree while a wave's agents run. */
const judgeNow = <T>(fn: () => Promise<T>): Promise<T> => fn();

/**
 * The lane of one wave (waves schedule, `step wait`): its concurrency; says when memory is what limits it.
 * `worktreesMade` (a run, whose agents start while the wave's later worktrees are made): what judging waits for
 * first. Agents that ended meanwhile are then judged together and share their reads of the checkouts and their pin
 * write (lib/fresh-read.ts), as when the wave's agents all started at once; the verdicts are not needed earlier
 * (the wave's wait needs its worktrees too), and a later agent finds them made.
 */
export function openWaveLane(
  ctx: Ctx,
  wave: PlanWave,
  stopped: () => boolean,
  failFast: () => void,
  worktreesMade?: () => Promise<unknown>,
): ItemLane {
  const { limit, byMemory } = waveConcurrency(ctx, wave);
  if (byMemory)
    ctx.events.emit({
      type: 'notice',
      message: `wave ${wave.wave}: at most ${limit} agent(s) at once: free memory allows no more (2 GiB each)`,
    });
  const judge = worktreesMade
    ? async <T>(fn: () => Promise<T>): Promise<T> => {
        await worktreesMade();
        return fn();
      }
    : judgeNow;
  return { slots: createRankedSlots(limit), stopped, failFast, judge };
}

/**
 * The one lane of a dag run: every item of the milestone shares the plan's concurrency; attempts are judged while
 * holding `integration`, the slot merges and worktree creations take.
 */
export function openMilestoneLane(
  ctx: Ctx,
  stopped: () => boolean,
  failFast: () => void,
  integration: RankedSlots,
): ItemLane {
  const { limit, byMemory } = itemConcurrency(ctx);
  if (byMemory)
    ctx.events.emit({
      type: 'notice',
      message: `at most ${limit} agent(s) at once: free memory allows no more (2 GiB each)`,
    });
  const judge = async <T>(fn: () => Promise<T>): Promise<T> => {
    // Ahead of merges and worktrees: a judged item frees its agent slot and may be merged next.
    const release = await integration.acquire(-3_000_000);
    try {
      return await fn();
    } finally {
      release();
    }
  };
  return { slots: createRankedSlots(limit), stopped, failFast, judge };
}

/**
 * Which item gets a free slot first (lowest first): agents re-attached from a previous run before any new start,
 * then the plan's order (wave, then position).
 */
export function itemRank(ctx: Ctx, item: PlanItem): number {
  const position = listItems(ctx.plan).findIndex((i) => i.issue === item.issue);
  return statusOf(ctx, item.issue) === 'in-progress' ? position - 1_000_000 : position;
}

/** Drive one item until its agent work is over (or scheduling stops); an item a failed dependency blocks is skipped. */
export async function driveItem(ctx: Ctx, item: PlanItem, lane: ItemLane, progress: Progress): Promise<void> {
  await skipBlockedItem(ctx, item);
  while (!isTerminal(ctx, item.issue)) {
    const release = await lane.slots.acquire(itemRank(ctx, item));
    try {
      if (statusOf(ctx, item.issue) === 'pending') {
        if (lane.stopped() || ctx.signal.aborted) return;
        assertWithinBudget(ctx.plan, ctx.store.current(), `#${item.issue}`);
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
          const next = await lane.judge(() => finishItemAttempt(ctx, item, state));
          if (next === 'final' && statusOf(ctx, item.issue) === 'failed' && ctx.options.failFast) lane.failFast();
          break;
        }
        const st = ctx.store.current().items[String(item.issue)];
        // Every 10 s: line-based renderers (CI, pipes) print each change.
        const line = `in progress (attempt ${st?.attempts ?? 1}, ${Math.floor((Date.now() - startedAt) / 10_000) * 10}s)`;
        if (line !== lastLine) progress.output((lastLine = line));
        await nextLook(itemAgentEnded(ctx, item.issue));
      }
    } finally {
      release();
    }
  }
}

/** Drive all items of a wave concurrently (`step wait`); the run walks one node per item instead. */
export async function driveWave(
  ctx: Ctx,
  wave: PlanWave,
  items: readonly PlanItem[],
  progress: Progress,
): Promise<void> {
  let stopped = false;
  const lane = openWaveLane(
    ctx,
    wave,
    () => stopped,
    () => (stopped = true),
  );
  // Started in rank order: a free slot goes to whoever asks first, so re-attached agents must ask first.
  const ordered = [...items].sort((a, b) => itemRank(ctx, a) - itemRank(ctx, b));
  // One progress for the wave's items: each line names its item.
  const named = (item: PlanItem): Progress => ({ output: (line) => progress.output(`#${item.issue}: ${line}`) });
  await Promise.all(ordered.map((item) => driveItem(ctx, item, lane, named(item))));
  if (ctx.signal.aborted)
    throw new InterruptedError('interrupted; agents still running were left alive: run again to re-attach');
  if (stopped) throw new NeedsAttentionError(`wave ${wave.wave}: stopped at the first failed item (--fail-fast)`);
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
