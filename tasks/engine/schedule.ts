/** Which nodes of a graph may run now (pure): a node is ready once every node it needs or comes after is finished. */
import type { Graph, GraphNode } from './graph.ts';

/** Nodes not yet started whose prerequisites (`needs` and `after`) are all finished, in graph order. */
export function readyNodes(
  graph: Graph,
  finished: ReadonlySet<string>,
  started: ReadonlySet<string>,
): readonly GraphNode[] {
  return graph.nodes.filter(
    (n) => !started.has(n.id) && n.needs.every((id) => finished.has(id)) && n.after.every((id) => finished.has(id)),
  );
}

/**
 * The order in which nodes start when each runs alone (no concurrency): repeatedly the first ready node. Used by
 * tests and `plan` to show what the runner does first; throws on a cycle or an edge to a missing node.
 */
export function runOrder(graph: Graph): readonly string[] {
  const finished = new Set<string>();
  const order: string[] = [];
  while (order.length < graph.nodes.length) {
    const next = readyNodes(graph, finished, finished)[0];
    if (!next) throw new Error(`internal: graph of milestone ${graph.milestone} has a cycle or a dangling edge`);
    finished.add(next.id);
    order.push(next.id);
  }
  return order;
}
