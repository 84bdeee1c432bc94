/** Compile a Plan into the task graph of docs/steps.md (pure: no I/O). */
import { mermaidLabel } from '../reporting/run-pictures.ts';
import { oneLine } from '../lib/bounded-text.ts';
import type { Plan, PlanItem, Schedule } from '../lib/plan/types.ts';
import type { Scope, StepId } from './step.ts';

/** One node: a step applied to a scope, with its prerequisites. */
export interface GraphNode {
  readonly id: string;
  readonly step: StepId;
  readonly scope: Scope;
  readonly needs: readonly string[];
  /** Ordering only: shown as edges, not required before a lone `step` (wait starts what spawn has not). */
  readonly after: readonly string[];
  readonly title: string;
}

/** Node id of a step for a scope: `merge@2`, `spawn@1#42`, `gates`. */
export function nodeId(step: StepId, scope: Scope = {}): string {
  return `${step}${scope.wave === undefined ? '' : `@${scope.wave}`}${scope.issue === undefined ? '' : `#${scope.issue}`}`;
}

/** The whole graph, nodes in a valid execution order. */
export interface Graph {
  readonly milestone: string;
  /** How its items are scheduled: the run's item nodes differ (per wave, or per item). */
  readonly schedule: Schedule;
  readonly nodes: readonly GraphNode[];
}

const TITLES: Readonly<Record<StepId, string>> = {
  validate: 'Validate the plan',
  prepare: 'Prepare the working tree',
  branch: 'Create the integration branch',
  fetch: 'Fetch the backlog items',
  worktrees: 'Create worktrees',
  spawn: 'Spawn agent',
  wait: 'Wait for agents',
  merge: 'Merge items',
  relay: 'Relay results',
  gates: 'Run quality gates',
  land: 'Land on main',
  complete: 'Complete the milestone',
};

/**
 * The graph of a plan. `waves`: validate → prepare → branch → fetch → per wave (worktrees and spawn per item, wait,
 * merge, relay) → gates → land → complete. `dag`: the same ends, but per item (worktrees, spawn, merge), see
 * `addDagItems`.
 */
export function compileGraph(plan: Plan, schedule: Schedule = plan.defaults.schedule): Graph {
  const nodes: GraphNode[] = [];
  const add: AddNode = (step, scope, needs, title = TITLES[step], after = []) => {
    const id = nodeId(step, scope);
    nodes.push({ id, step, scope, needs, after, title });
    return id;
  };
  let last = add('validate', {}, []);
  last = add('prepare', {}, [last]);
  last = add('branch', {}, [last]);
  last = add('fetch', {}, [last]);
  const ends = schedule === 'dag' ? addDagItems(plan, add, last) : [addWaves(plan, add, last)];
  last = add('gates', {}, ends);
  last = add('land', {}, [last]);
  add('complete', {}, [last]);
  return { milestone: plan.milestone.id, schedule, nodes };
}

type AddNode = (
  step: StepId,
  scope: Scope,
  needs: readonly string[],
  title?: string,
  after?: readonly string[],
) => string;

/**
 * Waves as barriers: each wave's worktrees need the previous wave's relay. One worktree node per item (`worktrees@W#I`)
 * so that an item's agent may start as soon as its own worktree exists, not once the whole wave's do; `wait@W` needs
 * them all. Returns the last relay.
 */
function addWaves(plan: Plan, add: AddNode, first: string): string {
  let last = first;
  for (const wave of plan.waves) {
    const w = wave.wave;
    const worktrees: string[] = [];
    const spawns: string[] = [];
    for (const item of wave.items) {
      const scope = { wave: w, issue: item.issue };
      const worktree = add('worktrees', scope, [last], `#${item.issue}: create worktree`);
      worktrees.push(worktree);
      // A `parallel: false` wave starts its items one after another: each spawn is ordered after the previous one.
      const previous = wave.parallel ? [] : spawns.slice(-1);
      spawns.push(add('spawn', scope, [worktree], `#${item.issue} ${oneLine(item.title)}`, previous));
    }
    const wait = add('wait', { wave: w }, worktrees, `Wave ${w}: wait for agents`, spawns);
    const merge = add('merge', { wave: w }, [wait], `Wave ${w}: merge`);
    last = add('relay', { wave: w }, [merge], `Wave ${w}: relay`);
  }
  return last;
}

/**
 * Items as their own chains (`--schedule dag`): `worktrees@W#I` (the worktree, made from integration as it is when
 * the item may start) → `spawn@W#I` (the agent, driven to its end) → `merge@W#I`. An item's worktree needs the merge
 * of each item it depends on, of the previous member of its conflict group (members are never in flight together)
 * and, in a `parallel: false` wave, of the wave's previous item. `relay@W` needs every merge of its wave. Returns the
 * relays, which the gates need.
 */
function addDagItems(plan: Plan, add: AddNode, first: string): string[] {
  const mergeOf = new Map<number, string>();
  const lastOfGroup = new Map<string, string>();
  const relays: string[] = [];
  for (const wave of plan.waves) {
    const w = wave.wave;
    const merges: string[] = [];
    for (const item of wave.items) {
      const needs = [first, ...dependencyMerges(item, mergeOf)];
      const group = item.conflictGroup === null ? undefined : lastOfGroup.get(item.conflictGroup);
      if (group) needs.push(group);
      if (!wave.parallel && merges.length) needs.push(merges[merges.length - 1] as string);
      const scope = { wave: w, issue: item.issue };
      const worktree = add('worktrees', scope, [...new Set(needs)], `#${item.issue}: create worktree`);
      const spawn = add('spawn', scope, [worktree], `#${item.issue} ${oneLine(item.title)}`);
      const merge = add('merge', scope, [spawn], `#${item.issue}: merge`);
      mergeOf.set(item.issue, merge);
      if (item.conflictGroup !== null) lastOfGroup.set(item.conflictGroup, merge);
      merges.push(merge);
    }
    relays.push(add('relay', { wave: w }, merges, `Wave ${w}: relay`));
  }
  return relays;
}

/** The merge nodes of an item's dependencies (all in earlier waves: the plan's integrity checks say so). */
function dependencyMerges(item: PlanItem, mergeOf: ReadonlyMap<number, string>): string[] {
  return item.dependsOn.flatMap((d) => {
    const merge = mergeOf.get(d);
    return merge ? [merge] : [];
  });
}

/** Indented tree for `plan.mts`: waves with their items. */
export function formatGraphTree(plan: Plan, graph: Graph): string {
  const lines = [`milestone ${plan.milestone.id}: ${plan.milestone.title} → ${plan.milestone.integrationBranch}`];
  let shown: number | undefined;
  for (const node of graph.nodes) {
    if (node.scope.wave !== undefined && node.scope.wave !== shown) {
      const wave = plan.waves.find((w) => w.wave === node.scope.wave);
      lines.push(`  wave ${node.scope.wave}${wave?.parallel ? '' : ' (one after another)'}`);
      shown = node.scope.wave;
    }
    if (node.step === 'spawn') {
      const item = plan.waves.flatMap((w) => w.items).find((i) => i.issue === node.scope.issue);
      const deps = item?.dependsOn.length ? ` (after ${item.dependsOn.map((d) => `#${d}`).join(', ')})` : '';
      const group = item?.conflictGroup ? ` [group ${item.conflictGroup}]` : '';
      lines.push(
        `    ${node.id}  #${item?.issue} ${JSON.stringify(item?.title)} ${item?.settings.agent}/${item?.settings.model}${group}${deps}`,
      );
    } else if (node.scope.wave !== undefined) {
      lines.push(`    ${node.id}`);
    } else {
      lines.push(`  ${node.id}`);
    }
  }
  const gates = [
    ...plan.gates.preMerge.map((g) => `pre-merge: ${g.name}`),
    ...plan.gates.postMerge.map((g) => `post-merge: ${g.name}`),
  ];
  if (gates.length) lines.push(`gates: ${gates.join('; ')}`);
  return lines.join('\n');
}

/** Graph as JSON: nodes and edges. */
export function graphToJson(plan: Plan, graph: Graph): object {
  return {
    milestone: {
      id: plan.milestone.id,
      title: plan.milestone.title,
      integrationBranch: plan.milestone.integrationBranch,
    },
    waves: plan.waves.map((w) => ({ wave: w.wave, parallel: w.parallel, items: w.items.map((i) => i.issue) })),
    nodes: graph.nodes.map((n) => ({ id: n.id, step: n.step, ...n.scope, title: n.title })),
    edges: graph.nodes.flatMap((n) => [
      ...n.needs.map((from) => ({ from, to: n.id, kind: 'needs' })),
      ...n.after.map((from) => ({ from, to: n.id, kind: 'after' })),
    ]),
  };
}

/**
 * Graph as a mermaid flowchart; an edge that another path already implies (worktrees → wait via the spawns) is left
 * out.
 */
export function graphToMermaid(graph: Graph): string {
  // Node ids are `step@wave#issue`: mapping every other character to `_` keeps them distinct.
  const key = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
  // Look-alikes for what ends or alters a quoted label, as in report.md's pictures (entity codes show garbled).
  const label = (s: string) => mermaidLabel(s, 160);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const implied = (n: GraphNode, from: string) =>
    n.after.some((a) => byId.get(a)?.needs.includes(from) || byId.get(a)?.after.includes(from));
  const lines = ['flowchart TD'];
  for (const n of graph.nodes) lines.push(`  ${key(n.id)}["${label(`${n.id}: ${n.title}`)}"]`);
  for (const n of graph.nodes)
    for (const from of [...n.needs.filter((f) => !implied(n, f)), ...n.after])
      lines.push(`  ${key(from)} --> ${key(n.id)}`);
  return lines.join('\n');
}
