/**
 * The listr2 tree a run shows on a TTY: the live board. It only shows: the walker (walk.ts) decides what runs and
 * when, and each line waits for its node's end. Lines are grouped so that a line appears when its node can start,
 * not before: under `waves`, the waves one after another, each with its agents (concurrent), its merge and relay;
 * under `dag`, the waves side by side; under both, an item's line once its worktree is made. A running item's line
 * shows its elapsed time and its agent's last activity; the last line sums the run up. What a line ends as is what
 * is true then: an item a stop left running says so, and so does its group (never ✔ for a wave whose agents run on).
 */
import type { ListrTask } from 'listr2';
import type { Ctx } from './context.ts';
import type { Graph, GraphNode } from './graph.ts';
import type { NodeViews, TaskLike } from './node-views.ts';
import type { NodeEnd, Walk } from './walk.ts';
import {
  agentRuns,
  BOARD_TICK_MS,
  failureOf,
  haltedItemNote,
  itemLine,
  itemVerdict,
  summaryLine,
} from './board-view.ts';
import { StepFailedError } from '../lib/errors.ts';

/** What every line of the tree needs. */
interface Tree {
  readonly graph: Graph;
  readonly ctx: Ctx;
  readonly views: NodeViews;
  readonly walk: Walk;
  readonly board: Board;
}

/**
 * Options of every nested list: a failed line does not stop the others (the walk decides what happens); a finished
 * group stays open, so the board keeps showing how each of its lines ended.
 */
const NESTED = {
  exitOnError: false,
  collectErrors: 'minimal',
  rendererOptions: { collapseSubtasks: false },
} as const;

const isItemNode = (node: GraphNode): boolean => node.step === 'spawn' && node.scope.issue !== undefined;

/**
 * The board's clock: every BOARD_TICK_MS, in one pass, each running item's line (`#1 One: running 1m 5s (attempt
 * 1)`, its agent's last activity under it) and the summary line, so that they always agree. What an item's driver
 * says meanwhile (`in progress …`, for the line output) is not shown: the title says it better.
 */
interface Board {
  /** Refresh an item's line until the returned function is called (its node ended). */
  watch(node: GraphNode, task: TaskLike): () => void;
  /** The summary line's task, refreshed with the items. */
  summary(task: TaskLike): void;
  stop(): void;
}

function createBoard(ctx: Ctx): Board {
  const items = new Map<GraphNode, TaskLike>();
  let summary: TaskLike | null = null;
  const tick = (): void => {
    const now = Date.now();
    // listr2 draws after each change: the summary first, so that it is never the line left behind.
    if (summary) summary.title = summaryLine(ctx);
    for (const [node, task] of items) {
      const line = itemLine(ctx, node.scope.issue as number, now);
      if (!line) continue;
      task.title = `${node.title}: ${line.state}`;
      task.output = line.activity ?? '';
    }
  };
  // Never what keeps the process alive: the summary line stops it when the walk is over.
  const timer = setInterval(tick, BOARD_TICK_MS).unref();
  return {
    watch(node, task) {
      items.set(node, task);
      tick();
      return () => items.delete(node);
    },
    summary(task) {
      summary = task;
      tick();
    },
    stop: () => clearInterval(timer),
  };
}

/** The part of an item's listr2 task its node may write to: titles and skips, not outputs (the ticker shows those). */
function titlesOnly(task: TaskLike): TaskLike {
  return {
    get output() {
      return task.output;
    },
    set output(_line: string) {
      // the board's clock shows what the item does
    },
    get title() {
      return task.title;
    },
    set title(title: string) {
      task.title = title;
    },
    skip: (message) => task.skip(message),
  };
}

/** What a line shows once its node has ended: the truth of that moment, not merely that the node's promise settled. */
async function endLine(tree: Tree, node: GraphNode, end: NodeEnd, task: TaskLike): Promise<void> {
  switch (end) {
    case 'finished': {
      if (!isItemNode(node)) return;
      const verdict = itemVerdict(tree.ctx, node.scope.issue as number, node.title);
      if (verdict.kind === 'ok') task.title = verdict.text;
      else if (verdict.kind === 'failed') throw new StepFailedError(verdict.text);
      else task.skip(verdict.text);
      return;
    }
    case 'halted':
      task.skip(
        `${node.title}: ${isItemNode(node) ? haltedItemNote(tree.ctx, node.scope.issue as number) : 'stopped before its end'}`,
      );
      return;
    case 'not-run':
      task.skip(`${node.title}: not run (the run stopped)`);
      return;
    case 'failed':
      throw new StepFailedError(`${node.title}${failureOf(await tree.walk.outcome, node.id)}`);
  }
}

/** One node's line: shows what the node says, ends when the node ends. Untitled: runs, but is not drawn. */
function nodeLine(node: GraphNode, tree: Tree, titled = true): ListrTask {
  return {
    ...(titled ? { title: node.title } : {}),
    task: async (_c, task) => {
      const item = isItemNode(node) && titled;
      tree.views.attach(node.id, item ? titlesOnly(task) : task);
      const stop = item ? tree.board.watch(node, task) : () => undefined;
      let end: NodeEnd;
      try {
        end = await tree.walk.endOf(node.id);
      } finally {
        stop();
      }
      if (tree.views.skipped(node.id)) return;
      await endLine(tree, node, end, task);
    },
  };
}

/**
 * The last, untitled line of a group: once every node of the group has ended, a group the run's stop left unfinished
 * says so (`Wave 1: stopped; 2 agents still running`) instead of showing ✔. It runs inside the group, so the group is
 * marked before listr2 would call it completed.
 */
function groupCloser(tree: Tree, title: string, nodes: readonly GraphNode[], group: TaskLike): ListrTask {
  return {
    task: async () => {
      const ends = await Promise.all(nodes.map((n) => tree.walk.endOf(n.id)));
      if (!ends.some((e) => e === 'halted' || e === 'not-run')) return;
      const running = nodes.filter(
        (n, i) => ends[i] === 'halted' && isItemNode(n) && agentRuns(tree.ctx, n.scope.issue as number),
      ).length;
      group.skip(`${title}: stopped${running ? `; ${running} agent(s) still running` : ''}`);
    },
  };
}

function nodesOfWave(graph: Graph, wave: number): GraphNode[] {
  return graph.nodes.filter((n) => n.scope.wave === wave);
}

function wavesOf(graph: Graph): number[] {
  return [...new Set(graph.nodes.flatMap((n) => (n.scope.wave === undefined ? [] : [n.scope.wave])))];
}

/** An item's line drawn from its worktree on: the worktree's node runs undrawn, then the item's line appears. */
function itemChain(nodes: readonly GraphNode[], issue: number, tree: Tree): ListrTask {
  return {
    task: (_c, task) =>
      task.newListr(
        nodes.filter((n) => n.scope.issue === issue).map((n) => nodeLine(n, tree, n.step !== 'worktrees')),
        { ...NESTED, concurrent: false },
      ),
  };
}

/**
 * A wave under `waves`: its agents side by side, each line drawn once its worktree is made (as under `dag`), then its
 * wait (not drawn), merge and relay.
 */
function waveGroup(graph: Graph, wave: number, tree: Tree): ListrTask {
  const nodes = nodesOfWave(graph, wave);
  const line = (n: GraphNode) => nodeLine(n, tree, n.step !== 'wait');
  const items = nodes.filter((n) => n.scope.issue !== undefined);
  const spawns = items.filter((n) => n.step === 'spawn');
  const title = `Wave ${wave}`;
  const agents = `Wave ${wave}: agents`;
  return {
    title,
    task: (_c, task) =>
      task.newListr(
        [
          {
            title: agents,
            task: (_c2, sub) =>
              sub.newListr(
                [
                  ...spawns.map((n) => itemChain(items, n.scope.issue as number, tree)),
                  groupCloser(tree, agents, items, sub),
                ],
                { ...NESTED, concurrent: true },
              ),
          },
          ...nodes.filter((n) => n.step === 'wait' || n.step === 'merge' || n.step === 'relay').map(line),
          groupCloser(tree, title, nodes, task),
        ],
        { ...NESTED, concurrent: false },
      ),
  };
}

/**
 * A wave under `dag`: its items side by side, each drawn from its worktree on (agent, then merge); its relay not drawn.
 */
function dagWaveGroup(graph: Graph, wave: number, tree: Tree): ListrTask {
  const nodes = nodesOfWave(graph, wave);
  const items = [...new Set(nodes.flatMap((n) => (n.scope.issue === undefined ? [] : [n.scope.issue])))];
  const itemLines = items.map((issue) => itemChain(nodes, issue, tree));
  const relays = nodes.filter((n) => n.scope.issue === undefined).map((n) => nodeLine(n, tree, false));
  const title = `Wave ${wave}`;
  return {
    title,
    task: (_c, task) =>
      task.newListr([...itemLines, ...relays, groupCloser(tree, title, nodes, task)], { ...NESTED, concurrent: true }),
  };
}

const titleOf = (graph: Graph, id: string): string => graph.nodes.find((n) => n.id === id)?.title ?? id;

/** The summary line, under the tree: running / waiting / done / failed / cost so far, on the board's clock. */
function summaryTask(tree: Tree): ListrTask {
  return {
    title: summaryLine(tree.ctx),
    task: async (_c, task) => {
      tree.board.summary(task);
      let outcome;
      try {
        outcome = await tree.walk.outcome;
      } finally {
        tree.board.stop();
      }
      const line = summaryLine(tree.ctx);
      task.title = line;
      switch (outcome.kind) {
        case 'done':
          return;
        case 'interrupted':
          return task.skip(`${line} (interrupted)`);
        case 'stopped':
          return task.skip(`${line} (stopped: ${outcome.reason})`);
        case 'failed':
          throw new StepFailedError(`${line} (${titleOf(tree.graph, outcome.node)} failed)`);
      }
    },
  };
}

const DAG_ITEMS = 'Items, as their dependencies merge';

/** The tree of a whole run, and its summary line. */
export function buildRunTree(graph: Graph, views: NodeViews, walk: Walk, ctx: Ctx): ListrTask[] {
  const tree: Tree = { graph, ctx, views, walk, board: createBoard(ctx) };
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
            title: DAG_ITEMS,
            task: (_c, task) =>
              task.newListr(
                [
                  ...waves.map((w) => dagWaveGroup(graph, w, tree)),
                  groupCloser(
                    tree,
                    DAG_ITEMS,
                    graph.nodes.filter((n) => n.scope.wave !== undefined),
                    task,
                  ),
                ],
                { ...NESTED, concurrent: true },
              ),
          },
        ]
      : waves.map((w) => waveGroup(graph, w, tree));
  const lines = [...before.map((n) => nodeLine(n, tree)), ...middle, ...after.map((n) => nodeLine(n, tree))];
  // Untitled, so drawn at the top level: the tree, and beside it (below) the summary line while it runs.
  return [
    {
      task: (_c, task) =>
        task.newListr(
          [{ task: (_c2, sub) => sub.newListr(lines, { ...NESTED, concurrent: false }) }, summaryTask(tree)],
          { ...NESTED, concurrent: true },
        ),
    },
  ];
}
