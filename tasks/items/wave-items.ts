/** Items of a wave and the rules of which may run (skipped when a dependency failed: docs/steps.md). */
import type { Ctx } from '../engine/context.ts';
import { itemConcurrency } from './agent-settings.ts';
import type { PlanItem, PlanWave } from '../lib/plan/types.ts';
import { TERMINAL_STATUSES, type ItemStatus } from '../lib/state-types.ts';
import type { Scope } from '../engine/step.ts';
import { updateItem } from '../lib/state-items.ts';

/** The wave of a scope. */
export function waveOf(ctx: Ctx, scope: Scope): PlanWave {
  const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
  if (!wave) throw new Error(`internal: no wave ${String(scope.wave)}`);
  return wave;
}

/** Status of an item in state (pending when unknown). */
export function statusOf(ctx: Ctx, issue: number): ItemStatus {
  return ctx.store.current().items[String(issue)]?.status ?? 'pending';
}

/** Whether an item's agent work is over. */
export function isTerminal(ctx: Ctx, issue: number): boolean {
  return TERMINAL_STATUSES.has(statusOf(ctx, issue));
}

const BLOCKING: ReadonlySet<ItemStatus> = new Set(['failed', 'skipped', 'escalated', 'ejected']);

/**
 * The dependency that failed, was skipped or escalated, which keeps a pending item from running; undefined when none.
 */
export function blockerOf(ctx: Ctx, item: PlanItem): number | undefined {
  return item.dependsOn.find((d) => BLOCKING.has(statusOf(ctx, d)));
}

/** Mark pending items whose dependencies failed, were skipped or escalated as skipped. */
export async function skipBlockedItems(ctx: Ctx, wave: PlanWave): Promise<void> {
  for (const item of wave.items) await skipBlockedItem(ctx, item);
}

/** How many agents of a wave may run at once; a serial wave runs one. */
export function waveConcurrency(ctx: Ctx, wave: PlanWave): { readonly limit: number; readonly byMemory: boolean } {
  if (!wave.parallel) return { limit: 1, byMemory: false };
  return itemConcurrency(ctx);
}

/** Items of the wave in the scope (one item with --item). */
export function scopedItems(ctx: Ctx, scope: Scope): readonly PlanItem[] {
  return waveOf(ctx, scope).items.filter((i) => scope.issue === undefined || i.issue === scope.issue);
}

/** Mark one pending item whose dependency failed, was skipped or escalated as skipped. */
export async function skipBlockedItem(ctx: Ctx, item: PlanItem): Promise<void> {
  if (statusOf(ctx, item.issue) !== 'pending') return;
  const blocker = blockerOf(ctx, item);
  if (blocker === undefined) return;
  const reason = `depends on #${blocker}, which is ${statusOf(ctx, blocker)}`;
  await ctx.store.update((s) => {
    updateItem(s, item.issue, { status: 'skipped', skipReason: reason, failureCode: 'dependency-failed' });
  });
  ctx.events.emit({
    type: 'item',
    issue: item.issue,
    status: 'skipped',
    detail: reason,
    failureCode: 'dependency-failed',
  });
}
