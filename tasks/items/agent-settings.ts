/** The agent settings an item (or a milestone-level agent) runs with: the plan's, with command-line overrides. */
import type { Ctx } from '../engine/context.ts';
import type { AgentSettings, PlanItem } from '../lib/plan/types.ts';

/** The settings an item runs with: the plan's, with command-line overrides. */
export function settingsFor(ctx: Ctx, item: PlanItem): AgentSettings {
  return {
    ...item.settings,
    agent: ctx.options.agent ?? item.settings.agent,
    command: ctx.options.agentCommand ?? item.settings.command,
  };
}

/** The settings of milestone-level agents (conflict resolution, gate fixes): the plan's defaults, with command-line overrides. */
export function defaultSettingsFor(ctx: Ctx): AgentSettings {
  const d = ctx.plan.defaults;
  return {
    agent: ctx.options.agent ?? d.agent,
    model: d.model,
    effort: d.effort,
    timeoutMs: d.timeoutMs,
    retries: d.retries,
    command: ctx.options.agentCommand ?? d.command,
    permissionMode: d.permissionMode,
    allowedTools: d.allowedTools,
    maxBudgetUsd: d.maxBudgetUsd,
    agentArgs: d.agentArgs,
  };
}
