/** The agent settings an item (or a milestone-level agent) runs with: the plan's, with command-line overrides. */
import type { Ctx } from '../engine/context.ts';
import { agentConcurrency } from '../lib/concurrency.ts';
import type { AgentSettings, ExecutorSettings, PlanItem } from '../lib/plan/types.ts';

/** The settings an item runs with: the plan's, with command-line overrides. */
export function settingsFor(ctx: Ctx, item: PlanItem): AgentSettings {
  return {
    ...item.settings,
    agent: ctx.options.agent ?? item.settings.agent,
    command: ctx.options.agentCommand ?? item.settings.command,
  };
}

/**
 * The settings of milestone-level agents (conflict resolution, gate fixes): the plan's defaults, with command-line
 * overrides.
 */
export function defaultSettingsFor(ctx: Ctx): AgentSettings {
  const d = ctx.plan.defaults;
  return {
    agent: ctx.options.agent ?? d.agent,
    model: d.model,
    effort: d.effort,
    timeoutMs: d.timeoutMs,
    maxOutputBytes: d.maxOutputBytes,
    retries: d.retries,
    command: ctx.options.agentCommand ?? d.command,
    permissionMode: d.permissionMode,
    allowedTools: d.allowedTools,
    maxBudgetUsd: d.maxBudgetUsd,
    agentArgs: d.agentArgs,
  };
}

/** Where an item's agent runs: its executor settings (the defaults' without its own), `--executor` over the kind. */
export function executorSettingsFor(ctx: Ctx, item?: PlanItem): ExecutorSettings {
  const base = item?.executor ?? ctx.plan.defaults.executor;
  return ctx.options.executor ? { ...base, kind: ctx.options.executor } : base;
}

/**
 * How many item agents run at once: the executor's `concurrency`, else the plan's (or `--concurrency`, over both);
 * bounded by free memory only on this machine (docs/executors.md).
 */
export function itemConcurrency(ctx: Ctx): { readonly limit: number; readonly byMemory: boolean } {
  const executor = executorSettingsFor(ctx);
  const requested = ctx.options.concurrency ?? executor.concurrency ?? ctx.plan.defaults.concurrency;
  return executor.kind === 'local' ? agentConcurrency(requested) : { limit: requested, byMemory: false };
}
