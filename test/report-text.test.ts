/**
 * `formatReport` (tasks/reporting/report-text.ts), in-process: the whole report.md of a small run as a golden string
 * (landed line,
 * items table, cost, conflicts, gates, follow-ups, flags, kept branches, auto-stash), and the minimal one (issue 15).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { emptyItem, emptyState, type State } from '../tasks/lib/state-types.ts';
import { formatReport } from '../tasks/reporting/report-text.ts';
import { itemResult } from './support/state-builders.ts';

const PLAN = parsePlan(
  `milestone: {number: 7, title: "v1.1 — Search"}
groomed: true
waves:
  - wave: 1
    items:
      - {issue: 42, title: "Tokenizer | split"}
      - {issue: 43, title: "CLI flags"}
  - wave: 2
    items:
      - {issue: 44, title: "Ranking", depends-on: [42]}
`,
  'plan/milestone-7-dispatch.yaml',
);

/** The status colours of the plan graph. */
const CLASSES = [
  '  classDef done fill:#d4f7d4,stroke:#2e7d32',
  '  classDef partial fill:#fff3c4,stroke:#b28704',
  '  classDef failed fill:#ffd6d6,stroke:#c62828',
  '  classDef skipped fill:#eeeeee,stroke:#9e9e9e',
  '  classDef running fill:#d6e9ff,stroke:#1565c0',
  '  classDef pending fill:#ffffff,stroke:#9e9e9e',
].join('\n');

test('formatReport: a nothing-run-yet state', () => {
  assert.is(
    formatReport(PLAN, emptyState('7'), []),
    `# Milestone 7: v1.1 — Search

## Items

| wave | item | status | merge | attempts | time | cost | turns | tokens | priority | labels |
|---|---|---|---|---|---|---|---|---|---|---|
| 1 | #42 Tokenizer \\| split | pending | - | 0 | - | - | - | - | - | - |
| 1 | #43 CLI flags | pending | - | 0 | - | - | - | - | - | - |
| 2 | #44 Ranking | pending | - | 0 | - | - | - | - | - | - |

Agent cost: $0.0000; turns: 0.

## Plan

\`\`\`mermaid
flowchart LR
  subgraph w1["Wave 1"]
    i42["#42 Tokenizer | split<br/>pending"]:::pending
    i43["#43 CLI flags<br/>pending"]:::pending
  end
  subgraph w2["Wave 2"]
    i44["#44 Ranking<br/>pending"]:::pending
  end
  i42 --> i44
${CLASSES}
\`\`\`

## Conflicts

None.

## Gates

No gates ran.

## Follow-ups

None.
`,
  );
});

test('formatReport: a landed run with a conflict, gates, follow-ups, flags, kept branches and a stash', () => {
  const base = emptyState('7');
  const state: State = {
    ...base,
    prepare: { kind: 'stashed', sha: 'f'.repeat(40), branch: 'main', at: '2026-01-01T00:00:00Z' },
    cache: {
      '42': {
        issue: 42,
        title: 'Tokenizer | split',
        source: 'plan/backlog/42.md',
        sections: {},
        body: '',
        labels: ['search', 'good first issue'],
        priority: 'P0',
      },
    },
    items: {
      '42': {
        ...emptyItem(42, 1),
        status: 'complete',
        attempts: 1,
        result: itemResult({
          durationMs: 75_000,
          costUsd: 0.12345,
          turns: 7,
          flags: ['report lists\nfiles git does not show'],
          usage: { input_tokens: 1200, output_tokens: 340, cache_read_input_tokens: 50_000 },
        }),
        merge: { kind: 'clean', sha: '1'.repeat(40), files: [], note: '', followUp: null },
      },
      '43': {
        ...emptyItem(43, 1),
        status: 'escalated',
        attempts: 2,
        result: itemResult({ durationMs: 3_700_000, costUsd: 1, turns: 20 }),
        merge: { kind: 'heavy', sha: null, files: ['src/a.ts'], note: 'both rewrote\nsrc/a.ts', followUp: 101 },
        followUps: [101],
      },
      '44': { ...emptyItem(44, 2), status: 'failed', attempts: 2, followUps: [102, 103] },
    },
    gates: {
      sha: '2'.repeat(40),
      at: '2026-01-01T00:00:00Z',
      results: [
        { name: 'npm run lint', phase: 'pre-merge', exitCode: 0, durationMs: 4_000, log: '' },
        { name: 'npm test', phase: 'post-merge', exitCode: 1, durationMs: 61_000, log: '' },
      ],
      fixAttempts: 2,
    },
    land: {
      mainBefore: '3'.repeat(40),
      mainAfter: 'abcdef0123456789abcdef0123456789abcdef01',
      integration: '0123456789abcdef0123456789abcdef01234567',
      pushed: true,
      at: '2026-01-01T00:00:00Z',
    },
    sessions: [
      { role: 'conflict', issue: 43, ok: false, costUsd: 0.5, turns: 4, at: '2026-01-01T00:00:00Z' },
      { role: 'fix', issue: 0, ok: true, costUsd: null, turns: null, at: '2026-01-01T00:00:00Z' },
    ],
  };
  assert.is(
    formatReport(PLAN, state, ['work/7/43-cli-flags', 'work/7/44-ranking (uncommitted work)']),
    `# Milestone 7: v1.1 — Search

Landed on main as abcdef0123 (integration 0123456789), pushed to origin.

## Items

| wave | item | status | merge | attempts | time | cost | turns | tokens | priority | labels |
|---|---|---|---|---|---|---|---|---|---|---|
| 1 | #42 Tokenizer \\| split | complete | clean | 1 | 1m 15s | $0.1235 | 7 | 1.2k in, 340 out, 50k cached | P0 | search, good first issue |
| 1 | #43 CLI flags | escalated | heavy | 2 | 1h 1m | $1.0000 | 20 | - | - | - |
| 2 | #44 Ranking | failed | - | 2 | - | - | - | - | - | - |

Agent cost: $1.6235; turns: 31 (items, plus 2 conflict/fix agent run(s)).
Item agents' tokens: 1.2k in, 340 out, 50k cached.

## Plan

\`\`\`mermaid
flowchart LR
  subgraph w1["Wave 1"]
    i42["#42 Tokenizer | split<br/>complete"]:::done
    i43["#43 CLI flags<br/>escalated"]:::failed
  end
  subgraph w2["Wave 2"]
    i44["#44 Ranking<br/>failed"]:::failed
  end
  i42 --> i44
${CLASSES}
\`\`\`

## Conflicts

- #43 (heavy): both rewrote src/a.ts → backlog item #101

## Gates

- pre-merge \`npm run lint\`: exit 0 in 4s
- post-merge \`npm test\`: exit 1 in 1m 1s
- fix attempts: 2

## Follow-ups

- #101 (from #43): its escalated merge conflict
- #102 (from #44): what was left when it merged PARTIAL
- #103 (from #44): what was left when it merged PARTIAL

## Flags

- #42: report lists files git does not show

## Kept (not merged, or holding uncommitted work)

- work/7/43-cli-flags
- work/7/44-ranking (uncommitted work)

Auto-stash ref ${'f'.repeat(40)} pending; run 'git stash pop ${'f'.repeat(40)}' to restore.
(\`git stash apply ${'f'.repeat(40)}\` restores it whatever its place in \`git stash list\`.)
`,
  );
});

test('formatReport: landed without a push says nothing of origin; trivial merges are conflicts, empty ones not', () => {
  const state: State = {
    ...emptyState('7'),
    items: {
      '42': {
        ...emptyItem(42, 1),
        status: 'complete',
        merge: { kind: 'trivial', sha: 'a', files: [], note: 'whitespace', followUp: null },
      },
      '43': {
        ...emptyItem(43, 1),
        status: 'complete',
        merge: { kind: 'empty', sha: 'a', files: [], note: 'nothing', followUp: null },
      },
    },
    land: { mainBefore: 'x', mainAfter: '9'.repeat(40), integration: '8'.repeat(40), pushed: false, at: 'now' },
  };
  const text = formatReport(PLAN, state, []);
  assert.match(text, `\n\nLanded on main as ${'9'.repeat(10)} (integration ${'8'.repeat(10)}).\n\n## Items\n`);
  assert.match(text, '## Conflicts\n\n- #42 (trivial): whitespace\n\n## Gates\n');
  assert.not.match(text, '#43 (empty)');
  assert.not.match(text, '## Kept');
  assert.not.match(text, '## Flags');
});

test('formatReport: more flags than the cap end in a "… (N more)" line', () => {
  const flags = Array.from({ length: 13 }, (_, i) => `flag ${i}`);
  const state: State = {
    ...emptyState('7'),
    items: { '42': { ...emptyItem(42, 1), status: 'complete', result: itemResult({ flags }) } },
  };
  const text = formatReport(PLAN, state, []);
  assert.match(text, '- #42: flag 9\n- #42: … (3 more)\n');
  assert.not.match(text, 'flag 10');
});

test.run();
