/**
 * A run shown as lines, without a TTY (CI, a pipe): every line names what it is about (`› #1 One: in progress …`),
 * every node ends in exactly one line (✔ done, ↓ found done, ✖ failed, ◼ left unfinished by a stop), and a run that
 * finds everything done (a landed milestone run again) prints one line. Nodes found done before anything happened are
 * held back, so that this one line can replace them.
 */
import type { Ctx } from './context.ts';
import type { Graph, GraphNode } from './graph.ts';
import type { NodeViews } from './node-views.ts';
import type { NodeEnd, Walk, WalkOutcome } from './walk.ts';
import { isTerminal } from '../items/wave-items.ts';
import { oneLine } from '../lib/bounded-text.ts';
import { agentRuns, failureOf, haltedItemNote, itemVerdict, summaryLine } from './board-view.ts';

/** The line output of one run: the views its nodes write to, and `show`, which prints until the walk is over. */
export interface LineDisplay {
  readonly views: NodeViews;
  show(walk: Walk): Promise<void>;
}

const isItemNode = (node: GraphNode): boolean => node.step === 'spawn' && node.scope.issue !== undefined;

/** The end line of an item's node that finished: how its agent work ended. */
function itemEndLine(ctx: Ctx, node: GraphNode, title: string): string {
  const issue = node.scope.issue as number;
  const verdict = itemVerdict(ctx, issue, node.title);
  switch (verdict.kind) {
    case 'ok':
      return `✔ ${verdict.text}`;
    case 'failed':
      return `✖ ${verdict.text}`;
    case 'skipped':
      return `↓ ${verdict.text}`;
    case 'open':
      // `step spawn --item`: the agent started, its work is not over.
      return `✔ ${title}${agentRuns(ctx, issue) ? ': agent running' : ''}`;
  }
}

/** The end line of a node, from how it ended (pure but for `ctx`'s item state). */
function endLine(ctx: Ctx, node: GraphNode, end: NodeEnd, title: string, failure: string): string {
  const isItem = isItemNode(node);
  switch (end) {
    case 'finished':
      return isItem ? itemEndLine(ctx, node, title) : `✔ ${title}`;
    case 'failed':
      return `✖ ${title}${failure}`;
    case 'halted':
      return `◼ ${node.title}: ${isItem ? haltedItemNote(ctx, node.scope.issue as number) : 'stopped before its end'}`;
    case 'not-run':
      return `◼ ${node.title}: not run (the run stopped)`;
  }
}

/** What the summary line adds for a run that did not end done. */
function outcomeNote(outcome: WalkOutcome, titleOf: (id: string) => string): string {
  switch (outcome.kind) {
    case 'done':
      return '';
    case 'interrupted':
    case 'stopped':
      return ' (stopped)';
    case 'failed':
      return ` (${titleOf(outcome.node)} failed)`;
  }
}

/** Lines for a run of `graph` (or, `step`, of the nodes a step command runs: no summary line), printed with `print`. */
export function createLineDisplay(
  ctx: Ctx,
  graph: Graph,
  print: (line: string) => void,
  kind: 'run' | 'step' = 'run',
): LineDisplay {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const titles = new Map<string, string>();
  const skips = new Map<string, string>();
  /** Lines of nodes found done, held back until something happens. */
  let held: string[] | null = [];
  const say = (line: string): void => {
    if (held) held.forEach(print);
    held = null;
    print(line);
  };
  const titleOf = (id: string): string => titles.get(id) ?? byId.get(id)?.title ?? id;
  const views: NodeViews = {
    viewOf: (id) => ({
      output: (line) => {
        const node = byId.get(id);
        // An item's driver says why it failed once it is over: its end line says that already.
        if (node && isItemNode(node) && isTerminal(ctx, node.scope.issue as number)) return;
        const text = oneLine(line);
        if (text) say(`› ${node?.title ?? id}: ${text}`);
      },
      title: (title) => void titles.set(id, title),
      skip: (message) => void skips.set(id, message),
    }),
    attach: () => undefined,
    skipped: (id) => skips.has(id),
  };
  const onEnd = async (walk: Walk, node: GraphNode, end: NodeEnd): Promise<void> => {
    // A wave's wait is over once its items are (their lines say how); the board does not draw it either.
    if (kind === 'run' && node.step === 'wait' && end !== 'failed') return;
    const skip = skips.get(node.id);
    if (end === 'finished' && skip !== undefined) {
      if (held) held.push(`↓ ${skip}`);
      else print(`↓ ${skip}`);
      return;
    }
    // A failed node's error is the walk's outcome, known once the nodes running then have ended.
    const failure = end === 'failed' ? failureOf(await walk.outcome, node.id) : '';
    say(endLine(ctx, node, end, titleOf(node.id), failure));
  };
  return {
    views,
    async show(walk) {
      await Promise.all(graph.nodes.map((n) => walk.endOf(n.id).then((end) => onEnd(walk, n, end))));
      const outcome = await walk.outcome;
      if (kind === 'step') {
        held?.forEach(print);
        return;
      }
      const { id, title } = ctx.plan.milestone;
      if (held && outcome.kind === 'done') {
        print(`✔ Milestone ${id} (${title}): landed already, nothing to do`);
        return;
      }
      say(`${summaryLine(ctx)}${outcomeNote(outcome, (node) => byId.get(node)?.title ?? node)}`);
    },
  };
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * `step` without a TTY: each selected node in turn, in the same lines as a run (one end line each, progress lines
 * naming it); `runOne` checks its prerequisites and runs it. A node that throws ends in `✖ <title>: <error>`, and the
 * error goes on (the command's message says it in full).
 */
export async function showStepLines(
  ctx: Ctx,
  nodes: readonly GraphNode[],
  runOne: (node: GraphNode, views: NodeViews) => Promise<void>,
  print: (line: string) => void,
): Promise<void> {
  const graph: Graph = { milestone: ctx.plan.milestone.id, schedule: 'waves', nodes };
  const display = createLineDisplay(ctx, graph, print, 'step');
  const ends = new Map(nodes.map((n) => [n.id, deferred<NodeEnd>()]));
  let failure: { readonly node: string; readonly error: unknown } | null = null;
  const outcome = (async (): Promise<WalkOutcome> => {
    for (const node of nodes) {
      const end = ends.get(node.id) as Deferred<NodeEnd>;
      if (failure) {
        end.resolve('not-run');
        continue;
      }
      try {
        await runOne(node, display.views);
        end.resolve('finished');
      } catch (error) {
        failure = { node: node.id, error };
        end.resolve('failed');
      }
    }
    return failure ? { kind: 'failed', ...failure } : { kind: 'done' };
  })();
  await display.show({ endOf: (id) => ends.get(id)?.promise ?? Promise.resolve('not-run'), outcome });
  const ended = await outcome;
  if (ended.kind === 'failed') throw ended.error;
}
