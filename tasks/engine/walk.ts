/**
 * Walk a graph: start every node whose prerequisites are finished (independent nodes run concurrently), until all
 * are finished, a node throws, or the run halts (interruption, --fail-fast). Knows nothing of steps: the caller says
 * how a node runs and whether the run halted.
 */
import { readyNodes } from './schedule.ts';
import type { Graph, GraphNode } from './graph.ts';

/** How a node's run ended: ran or found done (finished), or left unfinished because the run halted. */
export type NodeRun = 'finished' | 'halted';

/** Why scheduling stopped early. */
export type Halt = { readonly kind: 'interrupted' } | { readonly kind: 'stopped'; readonly reason: string };

/** The end of a walk. */
export type WalkOutcome =
  { readonly kind: 'done' } | Halt | { readonly kind: 'failed'; readonly node: string; readonly error: unknown };

/** How each node ended, for the renderer. */
export type NodeEnd = 'finished' | 'halted' | 'not-run' | 'failed';

/** What the walker asks of its caller. */
export interface WalkHooks {
  run(node: GraphNode): Promise<NodeRun>;
  /** Asked before each start and after each end: non-null stops scheduling (running nodes are awaited). */
  halted(): Halt | null;
  /** Among nodes ready at once, lower starts first (default: graph order). */
  priority?(node: GraphNode): number;
}

/** A walk under way: each node's end as it comes, and the outcome. */
export interface Walk {
  endOf(id: string): Promise<NodeEnd>;
  readonly outcome: Promise<WalkOutcome>;
}

/** Start walking `graph`. */
export function walkGraph(graph: Graph, hooks: WalkHooks): Walk {
  const ends = new Map<string, { promise: Promise<NodeEnd>; resolve: (end: NodeEnd) => void }>();
  for (const node of graph.nodes) {
    let resolve: (end: NodeEnd) => void = () => undefined;
    const promise = new Promise<NodeEnd>((r) => (resolve = r));
    ends.set(node.id, { promise, resolve });
  }
  const settle = (id: string, end: NodeEnd) => ends.get(id)?.resolve(end);
  const outcome = (async (): Promise<WalkOutcome> => {
    const started = new Set<string>();
    const finished = new Set<string>();
    const running = new Map<string, Promise<{ id: string; run?: NodeRun; error?: unknown }>>();
    let failure: { node: string; error: unknown } | null = null;
    let halt: Halt | null = null;
    for (;;) {
      halt = failure ? halt : hooks.halted();
      if (!failure && !halt) {
        const ready = [...readyNodes(graph, finished, started)];
        const priority = hooks.priority;
        if (priority) ready.sort((a, b) => priority(a) - priority(b));
        for (const node of ready) {
          started.add(node.id);
          running.set(
            node.id,
            hooks.run(node).then(
              (run) => ({ id: node.id, run }),
              (error: unknown) => ({ id: node.id, error }),
            ),
          );
        }
      }
      if (running.size === 0) break;
      const end = await Promise.race(running.values());
      running.delete(end.id);
      if (end.run === 'finished') finished.add(end.id);
      else if (end.run === undefined) failure ??= { node: end.id, error: end.error };
      settle(end.id, end.run ?? 'failed');
    }
    for (const node of graph.nodes) if (!started.has(node.id)) settle(node.id, 'not-run');
    if (failure) return { kind: 'failed', ...failure };
    if (finished.size === graph.nodes.length) return { kind: 'done' };
    halt ??= hooks.halted();
    if (halt) return halt;
    const left = graph.nodes.filter((n) => !finished.has(n.id)).map((n) => n.id);
    return {
      kind: 'failed',
      node: left[0] ?? '',
      error: new Error(`internal: nodes never became ready: ${left.join(' ')}`),
    };
  })();
  return { endOf: (id) => ends.get(id)?.promise ?? Promise.resolve('not-run'), outcome };
}
