/**
 * The task graph (docs/steps.md) of the seed plan: node order, per-item spawn nodes, the exact edges; and
 * `scripts/plan.mts` printing it as a tree, JSON and a mermaid flowchart without changing the repository.
 */
import { parseMermaid } from './support/mermaid.ts';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileGraph, graphToMermaid, type Graph } from '../tasks/engine/graph.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { makeRepo, ROOT, runCli, snapshotRepo, type TestRepo } from './support/fixture.ts';
import { runInProcess } from './support/cli.ts';

const SEED = readFileSync(path.join(ROOT, 'test', 'fixtures', 'plans', 'seed-7.yaml'), 'utf8');
const PLAN = parsePlan(SEED, 'plan/milestone-7-dispatch.yaml');
const ITEMS = PLAN.waves.flatMap((w) => w.items.map((i) => ({ wave: w.wave, issue: i.issue, title: i.title })));

/** The graph's nodes for seed-7, in order (docs/steps.md). */
const EXPECTED_NODES = [
  'validate',
  'prepare',
  'branch',
  'fetch',
  'worktrees@1#42',
  'spawn@1#42',
  'worktrees@1#43',
  'spawn@1#43',
  'wait@1',
  'merge@1',
  'relay@1',
  'worktrees@2#44',
  'spawn@2#44',
  'worktrees@2#45',
  'spawn@2#45',
  'wait@2',
  'merge@2',
  'relay@2',
  'worktrees@3#46',
  'spawn@3#46',
  'worktrees@3#47',
  'spawn@3#47',
  'wait@3',
  'merge@3',
  'relay@3',
  'gates',
  'land',
  'complete',
];

/** Every edge, `from -> to (kind)`: needs are prerequisites, after is ordering only. */
const EXPECTED_EDGES = [
  'validate -> prepare (needs)',
  'prepare -> branch (needs)',
  'branch -> fetch (needs)',
  // One worktree node per item: an item's agent needs only its own worktree; the wait needs all of the wave's.
  'fetch -> worktrees@1#42 (needs)',
  'fetch -> worktrees@1#43 (needs)',
  'worktrees@1#42 -> spawn@1#42 (needs)',
  'worktrees@1#43 -> spawn@1#43 (needs)',
  'worktrees@1#42 -> wait@1 (needs)',
  'worktrees@1#43 -> wait@1 (needs)',
  'spawn@1#42 -> wait@1 (after)',
  'spawn@1#43 -> wait@1 (after)',
  'wait@1 -> merge@1 (needs)',
  'merge@1 -> relay@1 (needs)',
  // Waves stay barriers: every worktree of wave 2 needs wave 1's relay.
  'relay@1 -> worktrees@2#44 (needs)',
  'relay@1 -> worktrees@2#45 (needs)',
  'worktrees@2#44 -> spawn@2#44 (needs)',
  'worktrees@2#45 -> spawn@2#45 (needs)',
  'worktrees@2#44 -> wait@2 (needs)',
  'worktrees@2#45 -> wait@2 (needs)',
  'spawn@2#44 -> wait@2 (after)',
  'spawn@2#45 -> wait@2 (after)',
  'wait@2 -> merge@2 (needs)',
  'merge@2 -> relay@2 (needs)',
  'relay@2 -> worktrees@3#46 (needs)',
  'relay@2 -> worktrees@3#47 (needs)',
  // Wave 3 is `parallel: false`: #47 starts after #46.
  'worktrees@3#46 -> spawn@3#46 (needs)',
  'worktrees@3#47 -> spawn@3#47 (needs)',
  'spawn@3#46 -> spawn@3#47 (after)',
  'worktrees@3#46 -> wait@3 (needs)',
  'worktrees@3#47 -> wait@3 (needs)',
  'spawn@3#46 -> wait@3 (after)',
  'spawn@3#47 -> wait@3 (after)',
  'wait@3 -> merge@3 (needs)',
  'merge@3 -> relay@3 (needs)',
  'relay@3 -> gates (needs)',
  'gates -> land (needs)',
  'land -> complete (needs)',
];

function edgesOf(graph: Graph): string[] {
  return graph.nodes.flatMap((n) => [
    ...n.needs.map((f) => `${f} -> ${n.id} (needs)`),
    ...n.after.map((f) => `${f} -> ${n.id} (after)`),
  ]);
}

/** Whether `from` reaches `to` along `edges`. */
function reaches(edges: ReadonlyArray<readonly [string, string]>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const queue = [from];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    if (at === to) return true;
    for (const [a, b] of edges) {
      if (a !== at || seen.has(b)) continue;
      seen.add(b);
      queue.push(b);
    }
  }
  return false;
}

/**
 * The mermaid flowchart checked line by line: node declarations with quoted labels, then edges between declared nodes.
 * This structural check is the only one: mermaid's own parser is not a dependency (113 packages, 154 MB).
 */
function checkMermaidStructure(text: string): { nodes: Map<string, string>; edges: Array<[string, string]> } {
  const lines = text.trimEnd().split('\n');
  assert.is(lines[0], 'flowchart TD');
  const nodes = new Map<string, string>();
  const edges: Array<[string, string]> = [];
  for (const line of lines.slice(1)) {
    const node = /^ {2}([A-Za-z0-9_]+)\["([^"]*)"\]$/.exec(line);
    const edge = /^ {2}([A-Za-z0-9_]+) --> ([A-Za-z0-9_]+)$/.exec(line);
    if (node) {
      assert.not.ok(nodes.has(node[1] as string), `node ${node[1]} declared twice`);
      assert.not.match(node[2] as string, /[<>`\n]/, `label of ${node[1]} holds a raw special character`);
      nodes.set(node[1] as string, node[2] as string);
    } else if (edge) {
      edges.push([edge[1] as string, edge[2] as string]);
    } else {
      assert.unreachable(`not a node or an edge line: ${JSON.stringify(line)}`);
    }
  }
  for (const [a, b] of edges) assert.ok(nodes.has(a) && nodes.has(b), `edge ${a} --> ${b} has an undeclared end`);
  return { nodes, edges };
}

test('compileGraph: seed-7 nodes in a valid order, one worktree node and one spawn node per item', () => {
  const graph = compileGraph(PLAN);
  assert.is(graph.milestone, '7');
  assert.equal(
    graph.nodes.map((n) => n.id),
    EXPECTED_NODES,
  );
  const seen = new Set<string>();
  for (const node of graph.nodes) {
    for (const dep of [...node.needs, ...node.after])
      assert.ok(seen.has(dep), `${node.id} depends on ${dep}, which does not come earlier`);
    assert.not.ok(seen.has(node.id), `${node.id} twice`);
    seen.add(node.id);
  }
  for (const item of ITEMS) {
    const spawn = graph.nodes.find((n) => n.step === 'spawn' && n.scope.issue === item.issue);
    assert.ok(spawn, `no spawn node for #${item.issue}`);
    assert.equal(spawn.scope, { wave: item.wave, issue: item.issue });
    assert.is(spawn.title, `#${item.issue} ${item.title}`);
  }
  assert.equal(graph.nodes.filter((n) => n.step === 'spawn').length, ITEMS.length);
  for (const item of ITEMS) {
    const worktree = graph.nodes.find((n) => n.id === `worktrees@${item.wave}#${item.issue}`);
    assert.equal(worktree?.scope, { wave: item.wave, issue: item.issue });
    assert.is(worktree?.title, `#${item.issue}: create worktree`);
  }
  assert.equal(graph.nodes.filter((n) => n.step === 'worktrees').length, ITEMS.length);
});

test('compileGraph: the edges of the step graph, and wave 3 (parallel: false) in sequence', () => {
  assert.equal(edgesOf(compileGraph(PLAN)).sort(), [...EXPECTED_EDGES].sort());
});

test('compileGraph: a parallel wave has no ordering between its spawns', () => {
  const graph = compileGraph(PLAN);
  for (const node of graph.nodes.filter((n) => n.step === 'spawn' && n.scope.wave !== 3)) assert.equal(node.after, []);
});

test('graphToMermaid: titles with quotes, brackets, #, & and ; stay inside their labels; mermaid parses it', async () => {
  const odd = SEED.replace('title: "Tokenizer"', 'title: "Say \\"hi\\" <b>x</b> & #1 `code` [a] {b}; next part"');
  const plan = parsePlan(odd, 'plan/milestone-7-dispatch.yaml');
  const text = graphToMermaid(compileGraph(plan));
  const { nodes } = checkMermaidStructure(text);
  // Look-alikes, not entity codes (mermaid 11 in a browser shows `#34;` garbled).
  assert.match(nodes.get('spawn_1_42') ?? '', "Say 'hi' ‹b›x‹/b› & #1 'code' [a] {b}; next part");
  assert.not.match(text, /#\d+;/);
  assert.is(await parseMermaid(text), 'flowchart-v2');
});

test('plan.mts 7: tree, --json and --mermaid of the seed plan; nothing in the repository changes', async () => {
  const repo: TestRepo = await makeRepo({ plan: SEED, items: ITEMS.map(({ issue, title }) => ({ issue, title })) });
  try {
    const before = await snapshotRepo(repo.dir);

    // The script once; --json and --mermaid in this process (the same command, without two more process starts).
    const tree = await runCli('plan', ['7', '--repo', repo.dir]);
    assert.is(tree.code, 0, tree.stderr);
    assert.is(tree.stderr, '');
    const lines = tree.stdout.split('\n');
    assert.is(lines[0], 'milestone 7: v1.1 — Search improvements → milestone/7-v1.1-search-improvements');
    for (const w of PLAN.waves)
      assert.ok(
        lines.includes(`  wave ${w.wave}${w.parallel ? '' : ' (one after another)'}`),
        `wave ${w.wave} missing:\n${tree.stdout}`,
      );
    for (const item of ITEMS) {
      assert.ok(
        lines.some((l) => l.startsWith(`    spawn@${item.wave}#${item.issue}  #${item.issue} "${item.title}"`)),
        `#${item.issue} missing:\n${tree.stdout}`,
      );
    }
    for (const id of EXPECTED_NODES)
      assert.ok(
        lines.some((l) => l.trim().split(/\s/)[0] === id),
        `${id} missing from the tree`,
      );
    assert.match(tree.stdout, /spawn@2#44 {2}#44 "Ranking" claude\/opus \[group 1\] \(after #42\)/);

    const json = await runInProcess('plan', ['7', '--repo', repo.dir, '--json']);
    assert.is(json.code, 0, json.stderr);
    const data = JSON.parse(json.stdout) as {
      milestone: { id: string; integrationBranch: string };
      waves: Array<{ wave: number; parallel: boolean; items: number[] }>;
      nodes: Array<{ id: string; step: string; wave?: number; issue?: number }>;
      edges: Array<{ from: string; to: string; kind: string }>;
    };
    assert.equal(data.milestone.id, '7');
    assert.equal(
      data.waves.map((w) => [w.wave, w.parallel, w.items]),
      [
        [1, true, [42, 43]],
        [2, true, [44, 45]],
        [3, false, [46, 47]],
      ],
    );
    assert.equal(
      data.nodes.map((n) => n.id),
      EXPECTED_NODES,
    );
    assert.equal(
      data.nodes.find((n) => n.id === 'spawn@3#47'),
      { id: 'spawn@3#47', step: 'spawn', wave: 3, issue: 47, title: '#47 Snippets' },
    );
    assert.equal(data.edges.map((e) => `${e.from} -> ${e.to} (${e.kind})`).sort(), [...EXPECTED_EDGES].sort());

    const mermaid = await runInProcess('plan', ['7', '--repo', repo.dir, '--mermaid']);
    assert.is(mermaid.code, 0, mermaid.stderr);
    const { nodes, edges } = checkMermaidStructure(mermaid.stdout);
    const key = (id: string) => id.replace(/[@#]/g, '_');
    assert.equal([...nodes.keys()], EXPECTED_NODES.map(key));
    // Every edge of the graph is drawn or implied by a path.
    for (const e of data.edges)
      assert.ok(reaches(edges, key(e.from), key(e.to)), `${e.from} -> ${e.to} is not in the flowchart`);
    assert.ok(edges.length >= EXPECTED_NODES.length - 1);

    assert.is(await snapshotRepo(repo.dir), before);
    assert.not.ok(existsSync(path.join(repo.dir, '.git', 'work-milestone')), 'plan.mts created .git/work-milestone');
  } finally {
    repo.cleanup();
  }
});

test('the structural check rejects broken flowcharts (it has teeth)', () => {
  const good = 'flowchart TD\n  a["A"]\n  b["B"]\n  a --> b\n';
  assert.equal(checkMermaidStructure(good).edges, [['a', 'b']]);
  const broken = {
    'no header': '  a["A"]\n',
    'unclosed label': 'flowchart TD\n  a["x" --> b\n',
    'edge to an undeclared node': 'flowchart TD\n  a["A"]\n  a --> b\n',
    'node declared twice': 'flowchart TD\n  a["A"]\n  a["B"]\n',
    'raw < in a label': 'flowchart TD\n  a["<b>A</b>"]\n',
  };
  for (const [what, text] of Object.entries(broken)) {
    // uvu's assert.throws re-throws assertion failures, which is how the check rejects: caught by hand.
    let rejected = false;
    try {
      checkMermaidStructure(text);
    } catch {
      rejected = true;
    }
    assert.ok(rejected, `accepted: ${what}`);
  }
});

test.run();
