/** `plan.mts <N>`: validate the plan and print the compiled graph; changes nothing on disk or in git. */
import { loadPlanOf } from '../engine/create-context.ts';
import { compileGraph, formatGraphTree, graphToJson, graphToMermaid } from '../engine/graph.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** Print the graph as a tree, JSON or mermaid. */
export async function planCommand(milestone: string, flags: Flags, io: Io): Promise<number> {
  const { plan } = await loadPlanOf({ milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const graph = compileGraph(plan, flags.options.schedule ?? plan.defaults.schedule);
  if (flags.json) io.out(JSON.stringify(graphToJson(plan, graph), null, 2));
  else if (flags.mermaid) io.out(graphToMermaid(graph));
  else io.out(formatGraphTree(plan, graph));
  return 0;
}
