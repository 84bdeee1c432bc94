/**
 * Attention texts (tasks/reporting/attention.ts), in-process: which items need a human (failed, skipped, escalated when
 * asked,
 * limited to waves) and the exact message with the command that continues (issue 15).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatAttention, itemsNeedingAttention } from '../tasks/reporting/attention.ts';
import type { Ctx } from '../tasks/engine/context.ts';
import { parsePlan } from '../tasks/lib/plan/load-plan.ts';
import { emptyItem, emptyState, type State } from '../tasks/lib/state-types.ts';

const PLAN = parsePlan(
  `milestone: {number: 7, title: "Search"}
groomed: true
waves:
  - wave: 1
    items:
      - {issue: 42, title: "Tokenizer"}
      - {issue: 43, title: "CLI flags"}
  - wave: 2
    items:
      - {issue: 44, title: "Ranking", depends-on: [42]}
      - {issue: 45, title: "Docs"}
      - {issue: 46, title: "Snippets"}
      - {issue: 47, title: "Highlighting"}
`,
  'plan/milestone-7-dispatch.yaml',
);

function ctxWith(state: State): Ctx {
  return { plan: PLAN, store: { current: () => state } } as unknown as Ctx;
}

const STATE: State = {
  ...emptyState('7'),
  items: {
    '42': {
      ...emptyItem(42, 1),
      status: 'failed',
      failure: 'agent reported COMPLETE but committed nothing\nsecond line',
    },
    '43': { ...emptyItem(43, 1), status: 'complete' },
    '44': { ...emptyItem(44, 2), status: 'skipped', skipReason: 'depends on #42, which is failed' },
    '45': {
      ...emptyItem(45, 2),
      status: 'escalated',
      merge: { kind: 'heavy', sha: null, files: [], note: 'both rewrote src/a.ts', followUp: 101 },
    },
    '46': { ...emptyItem(46, 2), status: 'failed' },
    // #47 has no state: nothing to attend to.
  },
};

test('itemsNeedingAttention: failed and skipped items in plan order, with why; escalations only when asked', () => {
  const ctx = ctxWith(STATE);
  assert.equal(itemsNeedingAttention(ctx, false), [
    { issue: 42, status: 'failed', why: 'agent reported COMPLETE but committed nothing\nsecond line' },
    { issue: 44, status: 'skipped', why: 'depends on #42, which is failed' },
    { issue: 46, status: 'failed', why: 'failed' },
  ]);
  assert.equal(itemsNeedingAttention(ctx, true), [
    { issue: 42, status: 'failed', why: 'agent reported COMPLETE but committed nothing\nsecond line' },
    { issue: 44, status: 'skipped', why: 'depends on #42, which is failed' },
    { issue: 45, status: 'escalated', why: 'both rewrote src/a.ts (backlog item #101)' },
    { issue: 46, status: 'failed', why: 'failed' },
  ]);
});

test('itemsNeedingAttention: only the waves asked for; defaults for missing reasons', () => {
  const state: State = {
    ...emptyState('7'),
    items: {
      '42': { ...emptyItem(42, 1), status: 'failed', failure: 'boom' },
      '44': { ...emptyItem(44, 2), status: 'skipped' },
      '45': { ...emptyItem(45, 2), status: 'escalated' },
    },
  };
  assert.equal(itemsNeedingAttention(ctxWith(state), true, [2]), [
    { issue: 44, status: 'skipped', why: 'skipped' },
    { issue: 45, status: 'escalated', why: 'merge conflict' },
  ]);
  assert.equal(itemsNeedingAttention(ctxWith(state), true, [1]), [{ issue: 42, status: 'failed', why: 'boom' }]);
  assert.equal(itemsNeedingAttention(ctxWith(emptyState('7')), true), []);
});

test('formatAttention: failed and skipped items, first line of why, and the command that retries them', () => {
  const ctx = ctxWith(STATE);
  assert.is(
    formatAttention(ctx, itemsNeedingAttention(ctx, false)),
    `milestone 7 needs attention:
  #42 failed: agent reported COMPLETE but committed nothing
  #44 skipped: depends on #42, which is failed
  #46 failed: failed
Fix the cause, then run \`npx zx scripts/run.mts 7\` again: it retries the failed and skipped items and lands them.`,
  );
});

test('formatAttention: with escalations, both hints; escalations alone, only theirs', () => {
  const ctx = ctxWith(STATE);
  assert.is(
    formatAttention(ctx, itemsNeedingAttention(ctx, true, [2])),
    `milestone 7 needs attention:
  #44 skipped: depends on #42, which is failed
  #45 escalated: both rewrote src/a.ts (backlog item #101)
  #46 failed: failed
Fix the cause, then run \`npx zx scripts/run.mts 7\` again: it retries the failed and skipped items and lands them.
Escalated conflicts are new backlog items; their branches are kept. Resolve them by hand or in the next milestone.`,
  );
  assert.is(
    formatAttention(ctx, [{ issue: 45, status: 'escalated', why: 'both rewrote src/a.ts (backlog item #101)' }]),
    `milestone 7 needs attention:
  #45 escalated: both rewrote src/a.ts (backlog item #101)
Escalated conflicts are new backlog items; their branches are kept. Resolve them by hand or in the next milestone.`,
  );
});

test.run();
