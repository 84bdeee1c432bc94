/** Run the graph as a listr2 task tree (run) or one step after checking its prerequisites (step). */
import { Listr, type ListrTask } from 'listr2';
import type { Ctx } from './context.ts';
import type { Graph, GraphNode } from './graph.ts';
import { BadInputError, InterruptedError, NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { STEPS } from '../steps/index.ts';
import { WAVE_STEPS, type Progress, type Scope, type StepId } from './step.ts';
import { driveItem, startWaveRun } from '../steps/wait.ts';
import { skipBlockedItems, waveOf } from '../items/wave-items.ts';

/** How the tree is shown: listr2's renderers, or nothing (tests, --json). */
export type RendererKind = 'default' | 'simple' | 'silent';

interface TaskLike {
  output: string;
  title: string;
  skip(message?: string): void;
}

function progressOf(task: TaskLike): Progress {
  return { output: (line) => (task.output = line) };
}

/** Check a node; run it when it is not done; verify that it is done afterwards. */
async function runNode(ctx: Ctx, node: GraphNode, task: TaskLike | null): Promise<void> {
  if (ctx.signal.aborted) throw new InterruptedError('interrupted; run again to continue where it stopped');
  const step = STEPS[node.step];
  const before = await step.check(ctx, node.scope);
  if (before.kind === 'done') {
    ctx.events.emit({ type: 'step-skip', node: node.id });
    task?.skip(`${node.title} (done)`);
    return;
  }
  ctx.events.emit({ type: 'step-start', node: node.id });
  try {
    await step.run(ctx, node.scope, task ? progressOf(task) : { output: () => undefined });
  } catch (error) {
    ctx.events.emit({ type: 'step-failed', node: node.id, message: (error as Error).message });
    throw error;
  }
  const after = await step.check(ctx, node.scope);
  if (after.kind !== 'done') throw new StepFailedError(`${node.id} ran but is not done: ${after.reason}`);
  ctx.events.emit({ type: 'step-done', node: node.id });
}

function nodeTask(ctx: Ctx, graph: Graph, node: GraphNode): ListrTask {
  return {
    title: node.title,
    task: async (_c, task) => {
      await assertNeedsDone(ctx, graph, node);
      await runNode(ctx, node, task);
    },
  };
}

/**
 * After the agents of a wave (untitled, so not rendered): an item whose driving threw (a git or file error, not an
 * agent's failure, which is recorded as the item's status) stops the wave with that error, not with a later
 * "merge needs wait" that hides it.
 */
function rethrowTask(errors: readonly unknown[]): ListrTask {
  return {
    task: () => {
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** The agents of a wave: one concurrent subtask per item, each driving its item to an end. */
function agentsTask(ctx: Ctx, graph: Graph, wave: number, errors: unknown[]): ListrTask {
  const waveNodes = graph.nodes.filter((n) => n.scope.wave === wave);
  const waitNode = waveNodes.find((n) => n.step === 'wait') as GraphNode;
  return {
    title: `Wave ${wave}: agents`,
    task: async (_c, task) => {
      const plan = waveOf(ctx, { wave });
      if ((await STEPS.wait.check(ctx, waitNode.scope)).kind === 'done') {
        ctx.events.emit({ type: 'step-skip', node: waitNode.id });
        task.skip(`Wave ${wave}: agents (done)`);
        return;
      }
      ctx.events.emit({ type: 'step-start', node: waitNode.id });
      await skipBlockedItems(ctx, plan);
      const run = startWaveRun(ctx, plan);
      const ordered = [...plan.items].sort((a, b) => rank(ctx, b.issue) - rank(ctx, a.issue));
      let remaining = ordered.length;
      const finishOne = async (): Promise<void> => {
        if (--remaining > 0) return;
        if ((await STEPS.wait.check(ctx, waitNode.scope)).kind === 'done')
          ctx.events.emit({ type: 'step-done', node: waitNode.id });
      };
      return task.newListr(
        ordered.map((item) => ({
          title: `#${item.issue} ${item.title.replace(/\s+/g, ' ').slice(0, 80)}`,
          task: async (_c2, sub) => {
            try {
              await driveItem(ctx, item, run, progressOf(sub));
            } catch (error) {
              errors.push(error);
              throw error;
            } finally {
              await finishOne();
            }
            const st = ctx.store.current().items[String(item.issue)];
            sub.title = `#${item.issue} ${item.title.replace(/\s+/g, ' ').slice(0, 80)}: ${st?.status ?? '?'}`;
            if (st?.status === 'failed' || st?.status === 'skipped') sub.output = st.failure ?? st.skipReason ?? '';
          },
        })),
        { concurrent: true, exitOnError: false, collectErrors: 'minimal' },
      );
    },
  };
}

function rank(ctx: Ctx, issue: number): number {
  return ctx.store.current().items[String(issue)]?.status === 'in-progress' ? 1 : 0;
}

/** The listr2 tree of a whole run. */
export function buildRunTasks(ctx: Ctx, graph: Graph): ListrTask[] {
  const tasks: ListrTask[] = [];
  for (const node of graph.nodes) {
    if (node.step === 'worktrees') {
      const wave = node.scope.wave as number;
      const byStep = (s: StepId) => graph.nodes.find((n) => n.step === s && n.scope.wave === wave) as GraphNode;
      const errors: unknown[] = [];
      tasks.push({
        title: `Wave ${wave}`,
        task: (_c, task) =>
          task.newListr(
            [
              nodeTask(ctx, graph, node),
              agentsTask(ctx, graph, wave, errors),
              rethrowTask(errors),
              nodeTask(ctx, graph, byStep('merge')),
              nodeTask(ctx, graph, byStep('relay')),
            ],
            { concurrent: false, exitOnError: true },
          ),
      });
    } else if (node.scope.wave === undefined) {
      tasks.push(nodeTask(ctx, graph, node));
    }
  }
  return tasks;
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
  } as const;
}

/** Run every node not yet done, in order. */
export async function executeRun(ctx: Ctx, graph: Graph, renderer: RendererKind): Promise<void> {
  const list = new Listr(buildRunTasks(ctx, graph), rootOptions(renderer));
  await list.run();
}

/** The nodes a `step` command means: that step, for --wave (all waves when absent), for --item. */
export function selectNodes(graph: Graph, step: StepId, scope: Scope): GraphNode[] {
  const perWave = WAVE_STEPS.has(step);
  const nodes = graph.nodes.filter(
    (n) => n.step === step && (!perWave || scope.wave === undefined || n.scope.wave === scope.wave),
  );
  if (step !== 'spawn') return nodes;
  // spawn for a wave starts what the concurrency allows; --item starts that one.
  const waves = [...new Set(nodes.map((n) => n.scope.wave as number))];
  return waves.flatMap((wave) =>
    scope.issue === undefined
      ? [
          {
            ...(nodes.find((n) => n.scope.wave === wave) as GraphNode),
            scope: { wave },
            id: `spawn@${wave}`,
            title: `Wave ${wave}: spawn agents`,
          },
        ]
      : nodes.filter((n) => n.scope.wave === wave && n.scope.issue === scope.issue),
  );
}

/** Throw when a prerequisite of `node` is not done: exit 2 naming it (or 3 after a --fail-fast stop). */
async function assertNeedsDone(ctx: Ctx, graph: Graph, node: GraphNode): Promise<void> {
  for (const need of node.needs) {
    const prereq = graph.nodes.find((n) => n.id === need) as GraphNode;
    const check = await STEPS[prereq.step].check(ctx, prereq.scope);
    if (check.kind === 'done') continue;
    if (ctx.signal.aborted)
      throw new InterruptedError('interrupted; agents still running were left alive: run again to re-attach');
    if (ctx.options.failFast && prereq.step === 'wait')
      throw new NeedsAttentionError(`stopped at the first failed item (--fail-fast): ${check.reason}`);
    const flags = `${prereq.scope.wave === undefined ? '' : ` --wave ${prereq.scope.wave}`}${prereq.scope.issue === undefined ? '' : ` --item ${prereq.scope.issue}`}`;
    throw new BadInputError(
      `step ${node.id} needs ${prereq.id}, which is not done (${check.reason}); run: npx zx scripts/step.mts ${prereq.step} ${graph.milestone}${flags}`,
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
): Promise<void> {
  const nodes = selectNodes(graph, step, scope);
  if (nodes.length === 0)
    throw new BadInputError(
      `no ${step} step${scope.wave === undefined ? '' : ` for wave ${scope.wave}`}${scope.issue === undefined ? '' : ` and item #${scope.issue}`} in milestone ${graph.milestone}`,
    );
  const tasks: ListrTask[] = nodes.map((node) => ({
    title: node.title,
    task: async (_c, task) => {
      await assertNeedsDone(ctx, graph, node);
      await runNode(ctx, node, task);
    },
  }));
  await new Listr(tasks, rootOptions(renderer)).run();
}
