/** `plan.mts <N>`: validate the plan and print the compiled graph; changes nothing on disk or in git. */
import { placeOf } from '../engine/create-context.ts';
import { compileGraph, formatGraphTree, graphToJson, graphToMermaid } from '../engine/graph.ts';
import { readState } from '../lib/state.ts';
import { planFacts } from '../reporting/plan-json.ts';
import { planStatusDifferences } from '../reporting/plan-status.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** Print the graph as a tree, JSON or mermaid. */
export async function planCommand(milestone: string, flags: Flags, io: Io): Promise<number> {
  const { plan, stateDir } = await placeOf({ milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const schedule = flags.options.schedule ?? plan.defaults.schedule;
  const graph = compileGraph(plan, schedule);
  if (flags.mermaid) {
    io.out(graphToMermaid(graph));
    return 0;
  }
  // The groomer's `status` keys are informational: the runner's state is what counts; say where they differ.
  const state = await readState(stateDir, plan.milestone.id).catch(() => undefined);
  const differences = state ? planStatusDifferences(plan, state.items) : [];
  if (flags.json)
    io.out(JSON.stringify({ ...graphToJson(plan, graph), ...planFacts(plan, schedule), differences }, null, 2));
  else {
    io.out(formatGraphTree(plan, graph));
    if (differences.length > 0)
      io.out(
        `\nstatus in the plan differs from the runner's state (the state counts):\n${differences.map((d) => `  ${d}`).join('\n')}`,
      );
  }
  return 0;
}
