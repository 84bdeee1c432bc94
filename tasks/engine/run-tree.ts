/**
 * The listr2 tree a run shows. It only shows: the walker (walk.ts) decides what runs and when, and each line waits for
 * its node's end. Lines are grouped so that a line appears when its node can start, not before: under `waves`, the
 * waves one after another, each with its worktrees, its agents (concurrent), its merge and relay; under `dag`, the
 * waves side by side, and an item's line once its worktree is made.
 */
import type { ListrTask } from 'listr2';
import type { Graph, GraphNode } from './graph.ts';
import type { NodeViews } from './node-views.ts';
import type { Walk } from './walk.ts';
import { StepFailedError } from '../lib/errors.ts';

/** Options of every nested list: a failed line does not stop the others (the walk decides what happens). */
const NESTED = { exitOnError: false, collectErrors: 'minimal' } as const;

/** One node's line: shows what the node says, ends when the node ends. Untitled: runs, but is not drawn. */
function nodeLine(node: GraphNode, views: NodeViews, walk: Walk, titled = true): ListrTask {
  return {
    ...(titled ? { title: node.title } : {}),
    task: async (_c, task) => {
      views.attach(node.id, task);
      const end = await walk.endOf(node.id);
      if (views.skipped(node.id)) return;
      if (end === 'not-run' || end === 'halted') task.skip(`${node.title} (not run: the run stopped)`);
      if (end === 'failed') throw new StepFailedError(`${node.id} failed`);
    },
  };
}

function nodesOfWave(graph: Graph, wave: number): GraphNode[] {
  return graph.nodes.filter((n) => n.scope.wave === wave);
}

function wavesOf(graph: Graph): number[] {
  return [...new Set(graph.nodes.flatMap((n) => (n.scope.wave === undefined ? [] : [n.scope.wave])))];
}

/** A wave under `waves`: worktrees, then its agents side by side, then its wait (not drawn), merge and relay. */
function waveGroup(graph: Graph, wave: number, views: NodeViews, walk: Walk): ListrTask {
  const nodes = nodesOfWave(graph, wave);
  const line = (n: GraphNode) => nodeLine(n, views, walk, n.step !== 'wait');
  return {
    title: `Wave ${wave}`,
    task: (_c, task) =>
      task.newListr(
        [
          ...nodes.filter((n) => n.step === 'worktrees').map(line),
          {
            title: `Wave ${wave}: agents`,
            task: (_c2, sub) =>
              sub.newListr(nodes.filter((n) => n.step === 'spawn').map(line), { ...NESTED, concurrent: true }),
          },
          ...nodes.filter((n) => n.step === 'wait' || n.step === 'merge' || n.step === 'relay').map(line),
        ],
        { ...NESTED, concurrent: false },
      ),
  };
}

/** A wave under `dag`: its items side by side, each drawn from its worktree on (agent, then merge); its relay not drawn. */
function dagWaveGroup(graph: Graph, wave: number, views: NodeViews, walk: Walk): ListrTask {
  const nodes = nodesOfWave(graph, wave);
  const items = [...new Set(nodes.flatMap((n) => (n.scope.issue === undefined ? [] : [n.scope.issue])))];
  const itemLines = items.map((issue): ListrTask => ({
    task: (_c, task) => {
      const of = nodes.filter((n) => n.scope.issue === issue);
      return task.newListr(
        of.map((n) => nodeLine(n, views, walk, n.step !== 'worktrees')),
        { ...NESTED, concurrent: false },
      );
    },
  }));
  const relays = nodes.filter((n) => n.scope.issue === undefined).map((n) => nodeLine(n, views, walk, false));
  return {
    title: `Wave ${wave}`,
    task: (_c, task) => task.newListr([...itemLines, ...relays], { ...NESTED, concurrent: true }),
  };
}

/** The tree of a whole run. */
export function buildRunTree(graph: Graph, views: NodeViews, walk: Walk): ListrTask[] {
  const waves = wavesOf(graph);
  // Milestone-wide nodes before the first wave node are drawn above the waves, the others below.
  const firstWave = graph.nodes.findIndex((n) => n.scope.wave !== undefined);
  const top = graph.nodes.filter((n) => n.scope.wave === undefined);
  const before = top.filter((n) => firstWave >= 0 && graph.nodes.indexOf(n) < firstWave);
  const after = top.filter((n) => !before.includes(n));
  const middle: ListrTask[] =
    graph.schedule === 'dag'
      ? [
          {
            title: 'Items, as their dependencies merge',
            task: (_c, task) =>
              task.newListr(
                waves.map((w) => dagWaveGroup(graph, w, views, walk)),
                { ...NESTED, concurrent: true },
              ),
          },
        ]
      : waves.map((w) => waveGroup(graph, w, views, walk));
  return [...before.map((n) => nodeLine(n, views, walk)), ...middle, ...after.map((n) => nodeLine(n, views, walk))];
}
