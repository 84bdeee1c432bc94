/**
 * What `plan --json` adds to the graph's nodes and edges: everything the tree shows and more (docs/status.md, "plan
 * --json"): the schedule, each item's depends-on, conflict group, priority, agent, model and limits, the conflict
 * groups, the gates and the defaults. Pure.
 */
import type { Gate, Plan, Schedule } from '../lib/plan/types.ts';
import { listItems } from '../lib/plan/types.ts';

const gateJson = (g: Gate) => ({
  name: g.name,
  run: g.run,
  files: [...g.files],
  timeoutMs: g.timeoutMs,
  maxOutputBytes: g.maxOutputBytes,
});

/** The plan's facts as JSON, for the schedule the graph was compiled for. */
export function planFacts(plan: Plan, schedule: Schedule): object {
  const d = plan.defaults;
  return {
    file: plan.file,
    schedule,
    land: d.land,
    backlog: plan.backlog,
    items: listItems(plan).map((i) => ({
      issue: i.issue,
      title: i.title,
      wave: i.wave,
      priority: i.priority,
      dependsOn: [...i.dependsOn],
      conflictGroup: i.conflictGroup,
      agent: i.settings.agent,
      model: i.settings.model,
      effort: i.settings.effort,
      timeoutMs: i.settings.timeoutMs,
      maxOutputBytes: i.settings.maxOutputBytes,
      retries: i.settings.retries,
      ...(i.settings.command !== null ? { command: i.settings.command } : {}),
      planStatus: i.planStatus ?? null,
    })),
    conflictGroups: plan.conflictGroups.map((g) => ({ id: g.id, reason: g.reason, items: [...g.items] })),
    gates: { preMerge: plan.gates.preMerge.map(gateJson), postMerge: plan.gates.postMerge.map(gateJson) },
    defaults: {
      agent: d.agent,
      model: d.model,
      effort: d.effort,
      timeoutMs: d.timeoutMs,
      maxOutputBytes: d.maxOutputBytes,
      retries: d.retries,
      concurrency: d.concurrency,
      merge: d.merge,
      maxFixAttempts: d.maxFixAttempts,
      gateTimeoutMs: d.gateTimeoutMs,
      permissionMode: d.permissionMode,
      allowedTools: [...d.allowedTools],
    },
  };
}
