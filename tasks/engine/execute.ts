/** Run the graph (run: every node not done, as its edges allow) or one step after checking its prerequisites (step). */
import { Listr, type ListrTask } from 'listr2';
import type { Ctx } from './context.ts';
import { nodeId, type Graph, type GraphNode } from './graph.ts';
import { BadInputError, InterruptedError, NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { findItem, type Schedule } from '../lib/plan/types.ts';
import { STEPS } from '../steps/index.ts';
import { WAVE_STEPS, type Progress, type Scope, type Step, type StepId } from './step.ts';
import { driveItem, itemRank, openMilestoneLane, openWaveLane, type ItemLane } from '../steps/wait.ts';
import { isTerminal, statusOf, waveOf } from '../items/wave-items.ts';
import { createRankedSlots, type RankedSlots } from './ranked-slots.ts';
import { walkGraph, type Halt, type NodeRun } from './walk.ts';
import { createNodeViews, type NodeView, type NodeViews } from './node-views.ts';
import { buildRunTree } from './run-tree.ts';
import { createLineDisplay, showStepLines } from './line-view.ts';
import { commandLine } from '../lib/command-words.ts';

/** How the tree is shown: the live board (listr2 on a TTY), lines (line-view.ts), or nothing (tests, --json). */
export type RendererKind = 'default' | 'simple' | 'silent';

/** How a run ended when no node failed: every node done, or stopped early (the CLI exits 130 or 3). */
export type RunOutcome = { readonly kind: 'done' } | Halt;

function progressOf(view: NodeView | undefined): Progress {
  return { output: (line) => view?.output(line) };
}

/** Check a node; run it when it is not done; verify that it is done afterwards. `begun`: its start was announced. */
async function runNode(
  ctx: Ctx,
  node: GraphNode,
  view: NodeView | undefined,
  step: Step = STEPS[node.step],
  begun = false,
): Promise<void> {
  if (ctx.signal.aborted) throw new InterruptedError('interrupted; run again to continue where it stopped');
  const before = await step.check(ctx, node.scope);
  if (before.kind === 'done') {
    ctx.events.emit(begun ? { type: 'step-done', node: node.id } : { type: 'step-skip', node: node.id });
    view?.skip(`${node.title} (done)`);
    return;
  }
  if (!begun) ctx.events.emit({ type: 'step-start', node: node.id });
  try {
    await step.run(ctx, node.scope, progressOf(view));
  } catch (error) {
    ctx.events.emit({ type: 'step-failed', node: node.id, message: (error as Error).message });
    throw error;
  }
  const after = await step.check(ctx, node.scope);
  if (after.kind !== 'done') throw new StepFailedError(`${node.id} ran but is not done: ${after.reason}`);
  ctx.events.emit({ type: 'step-done', node: node.id });
}

/** What the nodes of one run share while the graph is walked. */
interface Walker {
  readonly ctx: Ctx;
  readonly schedule: Schedule;
  readonly views: NodeViews;
  /** Agent slots: one lane per wave (waves), one for the milestone (dag). */
  readonly lanes: Map<number, ItemLane>;
  /**
   * The integration worktree's one slot: worktrees made from its HEAD (both schedules, in the plan's order) and, in a
   * dag run, merges and judging, one at a time.
   */
  readonly integration: RankedSlots;
  /** Waves whose wait was announced by their first item (the wave's wait node then reports done, not skipped). */
  readonly waitsBegun: Set<number>;
  /**
   * The runs of each wave's worktree nodes (waves): all started together, before any agent of the wave (they need
   * the same node, the agents need them), so the list is whole once an agent ends.
   */
  readonly worktreeRuns: Map<number, Promise<unknown>[]>;
  stop: Halt | null;
  failed: boolean;
}

function halted(w: Walker): Halt | null {
  if (w.ctx.signal.aborted) return { kind: 'interrupted' };
  return w.stop;
}

function laneOf(w: Walker, wave: number): ItemLane {
  const key = w.schedule === 'dag' ? 0 : wave;
  let lane = w.lanes.get(key);
  if (!lane) {
    const stopped = () => halted(w) !== null || w.failed;
    const failFast = () => (w.stop ??= { kind: 'stopped', reason: 'stopped at the first failed item (--fail-fast)' });
    lane =
      w.schedule === 'dag'
        ? openMilestoneLane(w.ctx, stopped, failFast, w.integration)
        : openWaveLane(w.ctx, waveOf(w.ctx, { wave }), stopped, failFast, () =>
            Promise.allSettled(w.worktreeRuns.get(wave) ?? []),
          );
    w.lanes.set(key, lane);
  }
  return lane;
}

function itemOf(w: Walker, node: GraphNode) {
  const item = findItem(w.ctx.plan, node.scope.issue as number);
  if (!item) throw new Error(`internal: ${node.id} names no item of the plan`);
  return item;
}

/** An item's node in a run: drive the item (start its agent within the lane's slots) until its work is over. */
async function driveNode(w: Walker, node: GraphNode): Promise<NodeRun> {
  const { ctx } = w;
  const view = w.views.viewOf(node.id);
  const item = itemOf(w, node);
  if ((await STEPS.wait.check(ctx, node.scope)).kind === 'done') {
    ctx.events.emit({ type: 'step-skip', node: node.id });
    view.skip(`${node.title} (${statusOf(ctx, item.issue)})`);
    return 'finished';
  }
  const wave = item.wave;
  if (w.schedule === 'waves' && !w.waitsBegun.has(wave)) {
    // The wave's wait is under way from its first item on, as `step wait` would be.
    w.waitsBegun.add(wave);
    ctx.events.emit({ type: 'step-start', node: `wait@${wave}` });
  }
  ctx.events.emit({ type: 'step-start', node: node.id });
  await driveItem(ctx, item, laneOf(w, wave), progressOf(view));
  if (!isTerminal(ctx, item.issue)) return 'halted';
  const st = ctx.store.current().items[String(item.issue)];
  view.title(`${node.title}: ${st?.status ?? '?'}`);
  if (st?.status === 'failed' || st?.status === 'skipped') view.output(st.failure ?? st.skipReason ?? '');
  ctx.events.emit({ type: 'step-done', node: node.id });
  return 'finished';
}

/**
 * A node that touches the integration worktree (an item's worktree made from its HEAD; in a dag run, an item's merge):
 * in its one slot, in the plan's order; worktrees before merges, as a worktree is quick and lets an agent start while
 * a merge only lets later items start. In a waves run this is what starts an item's agent while the next item's
 * worktree is made: the slot is handed on only after the item's spawn node has started.
 */
async function integrationNode(w: Walker, node: GraphNode): Promise<NodeRun> {
  const item = itemOf(w, node);
  const release = await w.integration.acquire(itemRank(w.ctx, item) - (node.step === 'worktrees' ? 2_000_000 : 0));
  try {
    if (halted(w)) return 'halted';
    await runNode(w.ctx, node, w.views.viewOf(node.id));
    // What the next item starting gets as relay holds everything merged so far.
    const relayScope = { wave: item.wave };
    if (node.step === 'merge' && (await STEPS.relay.check(w.ctx, relayScope)).kind !== 'done')
      await STEPS.relay.run(w.ctx, relayScope, progressOf(undefined));
    return 'finished';
  } finally {
    // Given back on the next turn of the event loop: the walker first starts what this node's end made ready (all in
    // microtasks), so a worktree waiting on this merge asks for the slot before it is handed on, and the item whose
    // worktree this was has its spawn node started before the next worktree starts.
    setImmediate(release);
  }
}

async function runWalkedNode(w: Walker, node: GraphNode): Promise<NodeRun> {
  const perItem = node.scope.issue !== undefined;
  if (perItem && node.step === 'spawn') return driveNode(w, node);
  if (perItem && node.step === 'worktrees' && w.schedule === 'waves') {
    const run = integrationNode(w, node);
    const wave = node.scope.wave as number;
    w.worktreeRuns.set(wave, [...(w.worktreeRuns.get(wave) ?? []), run]);
    return run;
  }
  if (perItem && (node.step === 'merge' || node.step === 'worktrees')) return integrationNode(w, node);
  const begun = node.step === 'wait' && w.waitsBegun.has(node.scope.wave as number);
  await runNode(w.ctx, node, w.views.viewOf(node.id), STEPS[node.step], begun);
  return 'finished';
}

/** Among nodes ready at once, items whose agents are re-attached start (and take their slots) first. */
function priorityOf(w: Walker, node: GraphNode): number {
  return node.step === 'spawn' && node.scope.issue !== undefined && statusOf(w.ctx, node.scope.issue) === 'in-progress'
    ? -1
    : 0;
}

/**
 * Options of every root list. listr2's own SIGINT listener would `process.exit(127)` at once: the runner handles
 * signals itself (run-command: stop scheduling, leave agents alive, exit 130).
 */
function rootOptions(renderer: RendererKind) {
  return {
    concurrent: false,
    exitOnError: true,
    collectErrors: 'minimal',
    renderer,
    fallbackRenderer: 'simple',
    registerSignalListeners: false,
    // The board keeps every line once its group is over: how each item ended stays on the screen.
    rendererOptions: { collapseSubtasks: false },
  } as const;
}

/**
 * Run every node not yet done: a node starts once the nodes it needs or comes after are finished. Throws what a node
 * threw (after the nodes running then ended); returns whether it stopped early (interrupted, --fail-fast).
 */
export async function executeRun(
  ctx: Ctx,
  graph: Graph,
  renderer: RendererKind,
  print: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
): Promise<RunOutcome> {
  const lines = renderer === 'simple' ? createLineDisplay(ctx, graph, print) : null;
  const w: Walker = {
    ctx,
    schedule: graph.schedule,
    views: lines?.views ?? createNodeViews(),
    lanes: new Map(),
    integration: createRankedSlots(1),
    waitsBegun: new Set(),
    worktreeRuns: new Map(),
    stop: null,
    failed: false,
  };
  const walk = walkGraph(graph, {
    run: (node) =>
      runWalkedNode(w, node).catch((error: unknown) => {
        w.failed = true;
        throw error;
      }),
    halted: () => halted(w),
    priority: (node) => priorityOf(w, node),
  });
  const shown = lines
    ? lines.show(walk)
    : new Listr(buildRunTree(graph, w.views, walk, ctx), { ...rootOptions(renderer), exitOnError: false }).run();
  const [outcome] = await Promise.all([walk.outcome, shown]);
  if (outcome.kind === 'failed') throw outcome.error;
  return outcome;
}

/** Steps a run walks per item but a `step` command runs for a whole wave as one node (unless --item): its title. */
const WAVE_TITLES: Partial<Readonly<Record<StepId, string>>> = {
  worktrees: 'create worktrees',
  spawn: 'spawn agents',
};

/** The id a `step` command knows a node by: a per-item node of a step run per wave (`spawn@1#42`) is its wave's. */
function waveIdOf(node: GraphNode): string {
  const wave = node.scope.wave;
  return node.scope.issue !== undefined && WAVE_TITLES[node.step] && wave !== undefined
    ? nodeId(node.step, { wave })
    : node.id;
}

/** The one node of a wave for a step a run walks per item: it needs what its items' nodes need from outside. */
function waveNode(graph: Graph, step: StepId, wave: number): GraphNode | undefined {
  const of = graph.nodes.filter((n) => n.step === step && n.scope.wave === wave);
  const first = of[0];
  if (!first) return undefined;
  const id = nodeId(step, { wave });
  const needs = [...new Set(of.flatMap((n) => n.needs).filter((need) => !of.some((n) => n.id === need)))];
  return { ...first, id, scope: { wave }, needs, after: [], title: `Wave ${wave}: ${WAVE_TITLES[step]}` };
}

/** The nodes a `step` command means: that step, for --wave (all waves when absent), for --item. */
export function selectNodes(graph: Graph, step: StepId, scope: Scope): GraphNode[] {
  const perWave = WAVE_STEPS.has(step);
  const nodes = graph.nodes.filter(
    (n) => n.step === step && (!perWave || scope.wave === undefined || n.scope.wave === scope.wave),
  );
  if (!WAVE_TITLES[step]) return nodes;
  // For a wave: spawn starts what the concurrency allows, worktrees makes them all; --item does one.
  const waves = [...new Set(nodes.map((n) => n.scope.wave as number))];
  return waves.flatMap((wave) =>
    scope.issue === undefined
      ? [waveNode(graph, step, wave) as GraphNode]
      : nodes.filter((n) => n.scope.wave === wave && n.scope.issue === scope.issue),
  );
}

/** A prerequisite by id: a node of the graph, or the wave node (`worktrees@2`) a step command runs. */
function prerequisiteOf(graph: Graph, id: string): GraphNode {
  const node = graph.nodes.find((n) => n.id === id || waveIdOf(n) === id) as GraphNode;
  return node.id === id ? node : (waveNode(graph, node.step, node.scope.wave as number) as GraphNode);
}

/**
 * Throw when a prerequisite of `node` is not done: exit 2 naming it (or 3 after a --fail-fast stop). A node of a
 * whole wave names its items' prerequisites as the wave's (`step worktrees 7 --wave 2`), an item's node its own.
 */
async function assertNeedsDone(ctx: Ctx, graph: Graph, node: GraphNode): Promise<void> {
  const needs =
    node.scope.issue === undefined ? node.needs.map((id) => waveIdOf(prerequisiteOf(graph, id))) : node.needs;
  for (const need of new Set(needs)) {
    const prereq = prerequisiteOf(graph, need);
    const check = await STEPS[prereq.step].check(ctx, prereq.scope);
    if (check.kind === 'done') continue;
    if (ctx.signal.aborted)
      throw new InterruptedError('interrupted; agents still running were left alive: run again to re-attach');
    if (ctx.options.failFast && prereq.step === 'wait')
      throw new NeedsAttentionError(`stopped at the first failed item (--fail-fast): ${check.reason}`);
    const flags = `${prereq.scope.wave === undefined ? '' : ` --wave ${prereq.scope.wave}`}${prereq.scope.issue === undefined ? '' : ` --item ${prereq.scope.issue}`}`;
    throw new BadInputError(
      `step ${node.id} needs ${prereq.id}, which is not done (${check.reason}); run: ${commandLine(ctx.entry, 'step', [prereq.step, graph.milestone])}${flags}`,
    );
  }
}

/** Run one step (every selected node), refusing when a prerequisite is not done (exit 2, naming it). */
export async function executeStep(
  ctx: Ctx,
  graph: Graph,
  step: StepId,
  scope: Scope,
  renderer: RendererKind,
  print: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
): Promise<void> {
  const nodes = selectNodes(graph, step, scope);
  if (nodes.length === 0)
    throw new BadInputError(
      `no ${step} step${scope.wave === undefined ? '' : ` for wave ${scope.wave}`}${scope.issue === undefined ? '' : ` and item #${scope.issue}`} in milestone ${graph.milestone}`,
    );
  if (renderer === 'simple') {
    const runOne = async (node: GraphNode, views: NodeViews) => {
      await assertNeedsDone(ctx, graph, node);
      await runNode(ctx, node, views.viewOf(node.id));
    };
    return showStepLines(ctx, nodes, runOne, print);
  }
  const views = createNodeViews();
  const tasks: ListrTask[] = nodes.map((node) => ({
    title: node.title,
    task: async (_c, task) => {
      views.attach(node.id, task);
      await assertNeedsDone(ctx, graph, node);
      await runNode(ctx, node, views.viewOf(node.id));
    },
  }));
  await new Listr(tasks, rootOptions(renderer)).run();
}
