/**
 * The pure parts of `status` and `report.md` (docs/status.md; the last activity of an agent: last-activity.test.ts):
 * token counts, and the mermaid pictures (plan graph, gantt timeline) accepted by mermaid's own parser, hostile
 * titles included; a broken diagram is refused by the same parser.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StampedEvent } from '../tasks/lib/events.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { emptyItem, emptyState, type State } from '../tasks/lib/state-types.ts';
import { planGraph, runGantt } from '../tasks/reporting/run-pictures.ts';
import { formatTokens, tokensOf } from '../tasks/reporting/tokens.ts';
import { parseMermaid } from './support/mermaid.ts';

test('tokensOf: claude and codex usage; formatTokens', () => {
  assert.equal(
    tokensOf({ input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 300, cache_creation_input_tokens: 4 }),
    { input: 10, output: 20, cacheRead: 300, cacheWrite: 4 },
  );
  assert.equal(tokensOf({ input_tokens: 1000, cached_input_tokens: 800, output_tokens: 5 }), {
    input: 200,
    output: 5,
    cacheRead: 800,
    cacheWrite: 0,
  });
  assert.is(tokensOf(null), null);
  assert.is(tokensOf({ input_tokens: 'many' }), null);
  assert.is(formatTokens({ input: 1234, output: 56, cacheRead: 12_000, cacheWrite: 0 }), '1.2k in, 56 out, 12k cached');
  assert.is(formatTokens(null), '-');
});

const HOSTILE =
  'A "quoted" title: with; colons %% and #35; <b>tags</b> `ticks` | pipes {braces} [brackets] \\ backslash';

const PLAN = parsePlan(
  `milestone: {number: 7, title: ${JSON.stringify(HOSTILE)}}
groomed: true
conflict-groups:
  - {group-id: 1, reason: "same files", items: ["One", "Three"]}
waves:
  - wave: 1
    items:
      - {issue: 1, title: "One", conflict-group: 1}
      - {issue: 2, title: ${JSON.stringify(HOSTILE)}}
  - wave: 2
    parallel: false
    items:
      - {issue: 3, title: "Three", depends-on: [1, 2], conflict-group: 1}
`,
  'plan/milestone-7-dispatch.yaml',
);

const T0 = Date.parse('2026-01-01T10:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const EVENTS: StampedEvent[] = [
  { t: at(0), type: 'run-start', milestone: '7', command: 'run 7', pid: 1 },
  { t: at(1), type: 'agent-spawned', issue: 1, role: 'item', pid: 11, attempt: 1 },
  { t: at(1), type: 'agent-spawned', issue: 2, role: 'item', pid: 12, attempt: 1 },
  { t: at(30), type: 'agent-exited', issue: 1, role: 'item', exitCode: 0 },
  { t: at(31), type: 'merge', issue: 1, kind: 'clean', sha: 'a'.repeat(40), note: '' },
  // #2's first attempt died unseen; its second one runs to the end.
  { t: at(40), type: 'agent-spawned', issue: 2, role: 'item', pid: 13, attempt: 2 },
  { t: at(70), type: 'agent-exited', issue: 2, role: 'item', exitCode: 1 },
  { t: at(71), type: 'agent-spawned', issue: 2, role: 'conflict', pid: 14, attempt: 1 },
  { t: at(80), type: 'agent-exited', issue: 2, role: 'conflict', exitCode: 0 },
  { t: at(81), type: 'merge', issue: 2, kind: 'medium', sha: 'b'.repeat(40), note: 'resolved' },
  { t: at(82), type: 'step-start', node: 'gates' },
  { t: at(90), type: 'gate', name: HOSTILE, phase: 'post-merge', exitCode: 1, sha: 'c'.repeat(40) },
  { t: at(91), type: 'agent-spawned', issue: 0, role: 'fix', pid: 15, attempt: 1 },
  { t: at(120), type: 'agent-exited', issue: 0, role: 'fix', exitCode: 0 },
  { t: at(125), type: 'gate', name: HOSTILE, phase: 'post-merge', exitCode: 0, sha: 'd'.repeat(40) },
  { t: at(126), type: 'step-done', node: 'gates' },
  { t: at(127), type: 'step-start', node: 'land' },
  { t: at(128), type: 'land', phase: 'merged', sha: 'e'.repeat(40) },
  { t: at(129), type: 'step-done', node: 'land' },
  { t: at(130), type: 'run-end', exitCode: 0 },
];

const STATE: State = {
  ...emptyState('7'),
  items: {
    '1': { ...emptyItem(1, 1), status: 'complete' },
    '2': { ...emptyItem(2, 1), status: 'escalated' },
    '3': { ...emptyItem(3, 2), status: 'in-progress' },
  },
};

test('planGraph: waves, depends-on, conflict groups, statuses; mermaid parses it (hostile titles too)', async () => {
  const graph = planGraph(PLAN, STATE);
  assert.match(graph, /^flowchart LR\n {2}subgraph w1\["Wave 1"\]\n/);
  assert.match(graph, '  subgraph w2["Wave 2 (one after another)"]');
  assert.match(graph, '    i1["#1 One<br/>complete"]:::done');
  assert.match(graph, '<br/>escalated"]:::failed');
  assert.match(graph, '<br/>in-progress"]:::running');
  assert.match(graph, '\n  i1 --> i3\n  i2 --> i3\n');
  assert.match(graph, '\n  i1 -.-|"group 1"| i3\n');
  assert.not.match(graph, '"quoted"');
  // No entity codes: mermaid 11 in a browser shows `#35;` as `ﬂ°°35¶ß`.
  assert.not.match(graph, /#\w+;/);
  assert.match(graph, "#2 A 'quoted' title: with; colons %% and #35 ‹b›tags‹/b›");
  assert.is(await parseMermaid(graph), 'flowchart-v2');
});

test('runGantt: agents from start to end (a lost attempt ends where the next begins), merges, gates, landing; mermaid parses it; a broken one fails', async () => {
  const gantt = runGantt(PLAN, EVENTS) as string;
  const lines = gantt.split('\n');
  assert.is(lines[0], 'gantt');
  assert.match(lines[1] as string, /^ {2}title Milestone 7 A quoted title with colons and #35 b tags/);
  assert.ok(lines.includes('  dateFormat x'));
  assert.ok(lines.includes(`    #1 One (attempt 1) :done, b1, ${T0 + 1000}, ${T0 + 30_000}`), gantt);
  assert.ok(
    lines.some(
      (l) =>
        /^ {4}#2 A quoted title .* \(attempt 1\) :crit, b\d+, /.test(l) && l.endsWith(`${T0 + 1000}, ${T0 + 40_000}`),
    ),
    gantt,
  );
  assert.ok(
    lines.some((l) => l.startsWith('    conflict agent of #2 :done, ')),
    gantt,
  );
  assert.ok(
    lines.some((l) => l.startsWith('    fix agent of the gates :done, ')),
    gantt,
  );
  assert.ok(
    lines.some(
      (l) => l.startsWith('    merge #1 clean :milestone, b') && l.endsWith(`, ${T0 + 31_000}, ${T0 + 31_000}`),
    ),
    gantt,
  );
  assert.ok(
    lines.some((l) => l.startsWith('    gates step :done, ')),
    gantt,
  );
  assert.ok(
    lines.some((l) => / red \(exit 1\) :milestone, /.test(l)),
    gantt,
  );
  assert.ok(
    lines.some((l) => l.startsWith('    main merged eeeeeeeeee :milestone, ')),
    gantt,
  );
  // Nothing in a task's name can end it early, split the statement or start a comment.
  for (const l of lines.filter((x) => / b\d+, /.test(x))) {
    const name = l.slice(0, l.lastIndexOf(' :'));
    assert.not.ok(/[:;"`]|%%/.test(name), l);
  }
  assert.is(await parseMermaid(gantt), 'gantt');
  const broken = gantt.replace(' :done, b1, ', ' ');
  assert.is.not(broken, gantt);
  await parseMermaid(broken).then(
    () => assert.unreachable('a broken gantt parsed'),
    (error: Error) => assert.match(error.message, 'Parse error'),
  );
  assert.is(runGantt(PLAN, []), null);
  assert.is(runGantt(PLAN, [EVENTS[0] as StampedEvent]), null);
});

test.run();
