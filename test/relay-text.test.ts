/**
 * Relay text (tasks/reporting/relay-text.ts), in-process: `formatRelay` in the seed's format with caps and "… (N more"
 * markers, `relayWavesFor` (the last 3 earlier waves once a plan has 5+ waves), and `relayForWave` joining relay
 * files under one header (issue 15).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ctx } from '../tasks/engine/context.ts';
import type { PlanWave } from '../tasks/lib/plan/types.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { emptyItem, type ItemState } from '../tasks/lib/state-types.ts';
import { RELAY_HEADER, formatRelay, relayForWave, relayPath, relayWavesFor } from '../tasks/reporting/relay-text.ts';
import { itemResult } from './support/state-builders.ts';

const PLAN = parsePlan(
  `milestone: {number: 7, title: "Search"}
groomed: true
waves:
  - wave: 1
    items:
      - {issue: 42, title: "Tokenizer"}
      - {issue: 43, title: "CLI flags"}
      - {issue: 44, title: "Docs"}
  - wave: 2
    items:
      - {issue: 45, title: "Ranking", depends-on: [42]}
`,
  'plan/milestone-7-dispatch.yaml',
);
const WAVE1 = PLAN.waves[0] as PlanWave;

const report = (notes: string) =>
  ({ status: 'COMPLETE', branch: null, filesChanged: [], commits: [], tasksBlocked: [], notes }) as const;

test('formatRelay: the seed format, one block per item of the wave in plan order', () => {
  const items: Record<string, ItemState> = {
    '42': {
      ...emptyItem(42, 1),
      status: 'complete',
      result: itemResult({
        files: ['src/tok.ts', 'test/tok.test.ts'],
        commits: [
          { sha: '1234567890abcdef1234567890abcdef12345678', subject: 'Add tokenizer' },
          { sha: 'abcdef1234567890abcdef1234567890abcdef12', subject: 'Test it' },
        ],
        report: report('split on\n  whitespace\tonly'),
      }),
    },
    '43': { ...emptyItem(43, 1), status: 'failed', failure: 'exited 1:\nboom' },
    // #44 has no state at all: pending, nothing known.
  };
  assert.is(
    formatRelay(WAVE1, items),
    `## Prior Wave Results
### Wave 1 Results
#### Item: #42 — Tokenizer
- Status: COMPLETE
- Files changed: src/tok.ts, test/tok.test.ts
- Key commits:
  - 1234567: Add tokenizer
  - abcdef1: Test it
- Design notes: split on whitespace only
#### Item: #43 — CLI flags
- Status: FAILED
- Files changed: none
- Key commits:
  - none
- Design notes: failed: exited 1: boom
#### Item: #44 — Docs
- Status: PENDING
- Files changed: none
- Key commits:
  - none
- Design notes: none
`,
  );
});

test('formatRelay: partial, skipped and in-progress statuses; notes, failure and skip reason joined', () => {
  const items: Record<string, ItemState> = {
    '42': {
      ...emptyItem(42, 1),
      status: 'partial',
      result: itemResult({ report: report('half') }),
      failure: 'ran out',
    },
    '43': { ...emptyItem(43, 1), status: 'skipped', skipReason: 'depends on #41, which is failed' },
    '44': { ...emptyItem(44, 1), status: 'in-progress' },
  };
  const text = formatRelay(WAVE1, items);
  assert.match(text, '#### Item: #42 — Tokenizer\n- Status: PARTIAL\n');
  assert.match(text, '- Design notes: half failed: ran out\n#### Item: #43');
  assert.match(text, '- Status: SKIPPED\n');
  assert.match(text, '- Design notes: depends on #41, which is failed\n#### Item: #44');
  assert.match(text, '#### Item: #44 — Docs\n- Status: IN-PROGRESS\n');
});

test('formatRelay: a marker commit (empty sha) is relayed as its text; long lists end in "… (N more"', () => {
  const files = Array.from({ length: 25 }, (_, i) => `f${i}.ts`);
  const commits = [
    ...Array.from({ length: 20 }, (_, i) => ({ sha: `${i}`.padStart(40, 'a'), subject: `c${i}` })),
    { sha: '', subject: '… (30 more; full list: git log --oneline aaa..bbb)' },
  ];
  const text = formatRelay(WAVE1, {
    '42': { ...emptyItem(42, 1), status: 'complete', result: itemResult({ files, commits }) },
  });
  const block = text.split('#### Item: #43')[0] ?? '';
  assert.match(block, `- Files changed: ${files.slice(0, 20).join(', ')}, … (5 more)\n`);
  assert.match(
    block,
    '  - aaaaaaa: c19\n  - … (30 more; full list: git log --oneline aaa..bbb)\n- Design notes: none\n',
  );
  assert.is(block.split('\n  - ').length - 1, 21);
});

test('formatRelay: more commits than the cap, none marked, are cut with a count', () => {
  const commits = Array.from({ length: 23 }, (_, i) => ({ sha: `${i}`.padStart(40, 'a'), subject: `c${i}` }));
  const text = formatRelay(WAVE1, {
    '42': { ...emptyItem(42, 1), status: 'complete', result: itemResult({ commits }) },
  });
  assert.match(text, '  - aaaaaaa: c19\n  - … (3 more)\n- Design notes: none\n');
});

test('formatRelay: old state with uncapped notes and failure is capped as new state is', () => {
  const text = formatRelay(WAVE1, {
    '42': {
      ...emptyItem(42, 1),
      status: 'failed',
      result: itemResult({ report: report('n'.repeat(2100)) }),
      failure: 'f'.repeat(1100),
    },
  });
  assert.match(
    text,
    `- Design notes: ${'n'.repeat(2048)}… (52 more characters) failed: ${'f'.repeat(1024)}… (76 more characters)\n`,
  );
});

test('relayWavesFor: every earlier wave for up to 4 waves, the last 3 earlier ones for 5+', () => {
  assert.equal(relayWavesFor([1, 2, 3, 4], 1), []);
  assert.equal(relayWavesFor([1, 2, 3, 4], 4), [1, 2, 3]);
  assert.equal(relayWavesFor([1, 2, 3, 4, 5], 5), [2, 3, 4]);
  assert.equal(relayWavesFor([1, 2, 3, 4, 5], 3), [1, 2]);
  assert.equal(relayWavesFor([10, 20, 30, 40, 50, 60], 60), [30, 40, 50]);
});

test('relayForWave: earlier waves\' relay files under one header; a missing file is left out; none gives ""', async () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'relay-text-'));
  try {
    const plan = parsePlan(
      `milestone: {number: 7, title: "Search"}
groomed: true
waves:
${[1, 2, 3, 4, 5].map((w) => `  - wave: ${w}\n    items:\n      - {issue: ${40 + w}, title: "Item ${w}"}`).join('\n')}
`,
      'plan/milestone-7-dispatch.yaml',
    );
    const ctx = { plan, stateDir } as unknown as Ctx;
    assert.is(await relayForWave(ctx, 2), '');
    mkdirSync(path.join(stateDir, 'relay'));
    for (const w of [1, 2, 4])
      writeFileSync(relayPath(stateDir, w), `${RELAY_HEADER}\n### Wave ${w} Results\nbody ${w}\n`);
    // 5 waves: wave 5 gets 2, 3 and 4; 3 has no file.
    assert.is(await relayForWave(ctx, 5), `${RELAY_HEADER}\n### Wave 2 Results\nbody 2\n### Wave 4 Results\nbody 4\n`);
    assert.is(await relayForWave(ctx, 1), '');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test("formatRelay: the backlog's priority and labels, where an item has them, on one bounded line", () => {
  const cached = (issue: number, labels: readonly string[], priority: string | null) => ({
    issue,
    title: `Item ${issue}`,
    source: `#${issue}`,
    sections: {},
    body: '',
    labels,
    priority,
  });
  const items: Record<string, ItemState> = {
    '42': { ...emptyItem(42, 1), status: 'complete', merge: null },
    '43': { ...emptyItem(43, 1), status: 'complete' },
  };
  const many = Array.from({ length: 60 }, (_, i) => `label-${i}`);
  const text = formatRelay(WAVE1, items, {
    '42': cached(42, ['bug', 'area:\nsearch'], 'P1'),
    '43': cached(43, many, null),
    '44': cached(44, [], null),
  });
  assert.match(
    text,
    '#### Item: #42 — Tokenizer\n- Status: COMPLETE\n- Triage: priority P1; labels: bug, area: search\n',
  );
  const line = text.split('\n').find((l) => l.startsWith('- Triage: labels: label-0,')) ?? '';
  assert.ok(line.length < 1200, `bounded: ${line.length}`);
  assert.match(line, /… \(\d+ more\)$/);
  assert.match(text, '#### Item: #44 — Docs\n- Status: PENDING\n- Files changed');
  assert.is(formatRelay(WAVE1, items).includes('Triage'), false, 'no cache, no triage line');
});

test.run();
