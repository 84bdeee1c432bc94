/**
 * The runner follows the graph (tasks/engine/schedule.ts, walk.ts, ranked-slots.ts), in process and without git: what
 * is ready, the order nodes start in, an edge added changing it, the dag graph's per-item edges, a walk's concurrency,
 * its halts and failures, and slots served by rank.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph, type Graph, type GraphNode } from '../tasks/engine/graph.ts';
import { createRankedSlots } from '../tasks/engine/ranked-slots.ts';
import { readyNodes, runOrder } from '../tasks/engine/schedule.ts';
import { walkGraph, type Halt } from '../tasks/engine/walk.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { ROOT } from './support/fixture.ts';

const SEED = readFileSync(path.join(ROOT, 'test', 'fixtures', 'plans', 'seed-7.yaml'), 'utf8');
const PLAN = parsePlan(SEED, 'plan/milestone-7-dispatch.yaml');

/** A small graph by hand: `a` first, then `b` and `c` (independent), then `d` needing both. */
function diamond(): Graph {
  const node = (id: string, needs: string[], after: string[] = []): GraphNode => ({
    id,
    step: 'gates',
    scope: {},
    needs,
    after,
    title: id,
  });
  return {
    milestone: '7',
    schedule: 'waves',
    nodes: [node('a', []), node('b', ['a']), node('c', ['a']), node('d', ['b', 'c'])],
  };
}

/** `graph` with one more edge: `to` comes after `from`. */
function withEdge(graph: Graph, from: string, to: string): Graph {
  return {
    ...graph,
    nodes: graph.nodes.map((n) => (n.id === to ? { ...n, after: [...n.after, from] } : n)),
  };
}

test('readyNodes: a node is ready once everything it needs or comes after is finished, and not before', () => {
  const g = diamond();
  assert.equal(
    readyNodes(g, new Set(), new Set()).map((n) => n.id),
    ['a'],
  );
  assert.equal(
    readyNodes(g, new Set(['a']), new Set(['a'])).map((n) => n.id),
    ['b', 'c'],
  );
  assert.equal(
    readyNodes(g, new Set(['a', 'b']), new Set(['a', 'b', 'c'])).map((n) => n.id),
    [],
  );
  assert.equal(
    readyNodes(g, new Set(['a', 'b', 'c']), new Set(['a', 'b', 'c'])).map((n) => n.id),
    ['d'],
  );
});

test('an edge added to a graph changes what runs first', () => {
  assert.equal(runOrder(diamond()), ['a', 'b', 'c', 'd']);
  assert.equal(runOrder(withEdge(diamond(), 'c', 'b')), ['a', 'c', 'b', 'd']);
  // On the compiled waves graph: wave 2's #44 made to come after #45 starts later than #45.
  const seed = compileGraph(PLAN, 'waves');
  const before = runOrder(seed);
  assert.ok(before.indexOf('spawn@2#44') < before.indexOf('spawn@2#45'));
  const after = runOrder(withEdge(seed, 'spawn@2#45', 'spawn@2#44'));
  assert.ok(after.indexOf('spawn@2#45') < after.indexOf('spawn@2#44'), after.join(' '));
});

test('runOrder: a cycle is an internal error, not a hang', () => {
  assert.throws(() => runOrder(withEdge(diamond(), 'd', 'a')), /cycle or a dangling edge/);
});

test('dag graph: per-item chains; a worktree needs the merges of its dependencies, of its conflict group and of a serial wave', () => {
  const graph = compileGraph(PLAN, 'dag');
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const needs = (id: string) => [...(byId.get(id)?.needs ?? [])].sort();
  assert.equal(needs('worktrees@1#42'), ['fetch']);
  assert.equal(needs('worktrees@1#43'), ['fetch']);
  assert.equal(needs('spawn@1#42'), ['worktrees@1#42']);
  assert.equal(needs('merge@1#42'), ['spawn@1#42']);
  // #44 depends on #42, which is also the previous member of group 1.
  assert.equal(needs('worktrees@2#44'), ['fetch', 'merge@1#42']);
  assert.equal(needs('worktrees@2#45'), ['fetch', 'merge@1#43']);
  // Wave 3 is serial and both items are in group 1: #47 after #46's merge.
  assert.equal(needs('worktrees@3#46'), ['fetch', 'merge@2#44']);
  assert.equal(needs('worktrees@3#47'), ['fetch', 'merge@2#44', 'merge@3#46']);
  assert.equal(needs('relay@2'), ['merge@2#44', 'merge@2#45']);
  assert.equal(needs('gates'), ['relay@1', 'relay@2', 'relay@3']);
  assert.not.ok(
    graph.nodes.some((n) => n.step === 'wait'),
    'no wave-wide wait: each item is its own node',
  );
  // #45 (wave 2) may start before #42 (wave 1) merged: only #43's merge is in its way.
  const finished = new Set(['validate', 'prepare', 'branch', 'fetch', 'worktrees@1#43', 'spawn@1#43', 'merge@1#43']);
  const started = new Set([...finished, 'worktrees@1#42', 'spawn@1#42']);
  assert.equal(
    readyNodes(graph, finished, started).map((n) => n.id),
    ['worktrees@2#45'],
  );
});

test('dag graph: a plan with no dependencies has no edge between items', () => {
  const plan = parsePlan(
    `milestone: {number: 7, title: T}
waves:
  - wave: 1
    items: [{issue: 1, title: One}]
  - wave: 2
    items: [{issue: 2, title: Two}]
defaults: {agent: command, command: "true", schedule: dag}
`,
    'plan/milestone-7-dispatch.yaml',
  );
  assert.is(plan.defaults.schedule, 'dag');
  const graph = compileGraph(plan);
  assert.equal(graph.nodes.find((n) => n.id === 'worktrees@2#2')?.needs, ['fetch']);
  assert.ok(compileGraph(plan, 'waves').nodes.some((n) => n.id === 'wait@2'));
});

/** A walk of `graph` whose nodes each wait for the test to end them; what started, in order. */
function manualWalk(graph: Graph, halt: () => Halt | null = () => null) {
  const started: string[] = [];
  const finish = new Map<string, (run: 'finished' | 'halted' | Error) => void>();
  const walk = walkGraph(graph, {
    run: (node) =>
      new Promise((resolve, reject) => {
        started.push(node.id);
        finish.set(node.id, (run) => (run instanceof Error ? reject(run) : resolve(run)));
      }),
    halted: halt,
  });
  const end = async (id: string, run: 'finished' | 'halted' | Error = 'finished') => {
    for (let i = 0; i < 100 && !finish.has(id); i++) await new Promise((r) => setImmediate(r));
    const f = finish.get(id);
    if (!f) throw new Error(`${id} never started (started: ${started.join(' ')})`);
    f(run);
    await new Promise((r) => setImmediate(r));
  };
  return { walk, started, end };
}

test('walkGraph: independent nodes run together; a node waits for every prerequisite', async () => {
  const { walk, started, end } = manualWalk(diamond());
  await end('a');
  assert.equal(started, ['a', 'b', 'c'], 'b and c both started once a finished');
  await end('c');
  assert.equal(started, ['a', 'b', 'c'], 'd waits for b');
  await end('b');
  await end('d');
  assert.equal(await walk.outcome, { kind: 'done' });
  assert.is(await walk.endOf('d'), 'finished');
});

test('walkGraph: a halt stops scheduling; running nodes end; the outcome says why', async () => {
  let halt: Halt | null = null;
  const { walk, started, end } = manualWalk(diamond(), () => halt);
  await end('a');
  halt = { kind: 'stopped', reason: 'stopped at the first failed item (--fail-fast)' };
  await end('b');
  assert.equal(started, ['a', 'b', 'c']);
  await end('c', 'halted');
  assert.equal(await walk.outcome, halt);
  assert.is(await walk.endOf('c'), 'halted');
  assert.is(await walk.endOf('d'), 'not-run');
});

test('walkGraph: a node that throws fails the walk once the running nodes ended; nothing new starts', async () => {
  const { walk, started, end } = manualWalk(diamond());
  await end('a');
  await end('b', new Error('git broke'));
  assert.equal(started, ['a', 'b', 'c']);
  await end('c');
  const outcome = await walk.outcome;
  assert.is(outcome.kind, 'failed');
  assert.is(outcome.kind === 'failed' && (outcome.error as Error).message, 'git broke');
  assert.is(await walk.endOf('d'), 'not-run');
});

test('ranked slots: at most size holders; a freed slot goes to the lowest rank waiting, ties first come', async () => {
  const slots = createRankedSlots(1);
  const order: string[] = [];
  const first = await slots.acquire(5);
  const got = new Map<string, () => void>();
  const wait = (rank: number, name: string) =>
    void slots.acquire(rank).then((release) => {
      order.push(name);
      got.set(name, release);
    });
  wait(3, '3a');
  wait(1, '1');
  wait(3, '3b');
  const tick = () => new Promise((r) => setImmediate(r));
  await tick();
  assert.equal(order, [], 'nobody gets a taken slot');
  first();
  first(); // a second release of the same slot frees nothing more
  await tick();
  assert.equal(order, ['1']);
  got.get('1')?.();
  await tick();
  assert.equal(order, ['1', '3a']);
  got.get('3a')?.();
  await tick();
  assert.equal(order, ['1', '3a', '3b']);
});

test.run();
