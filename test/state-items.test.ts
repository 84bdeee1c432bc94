/**
 * `updateItem` (tasks/lib/state-items.ts): a write to an item changes it, a new status clears `reported`, and a write
 * to a missing item is an error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Draft } from '../tasks/lib/state.ts';
import { updateItem } from '../tasks/lib/state-items.ts';
import { emptyItem, emptyState, type State } from '../tasks/lib/state-types.ts';

function draftWith(...issues: number[]): Draft<State> {
  const state = structuredClone(emptyState('7')) as Draft<State>;
  for (const issue of issues) state.items[String(issue)] = structuredClone(emptyItem(issue, 1));
  return state;
}

test('updateItem: applies the patch to that item only and returns it', () => {
  const draft = draftWith(42, 43);
  const item = updateItem(draft, 42, { status: 'skipped', skipReason: 'depends on #41, which is failed' });
  assert.is(item, draft.items['42']);
  assert.is(draft.items['42']?.status, 'skipped');
  assert.is(draft.items['42']?.skipReason, 'depends on #41, which is failed');
  assert.is(draft.items['43']?.status, 'pending');
});

test('updateItem: a patch computed from the item sees its current fields', () => {
  const draft = draftWith(42);
  updateItem(draft, 42, (it) => ({ followUps: [...it.followUps, 100] }));
  updateItem(draft, 42, (it) => ({ followUps: [...it.followUps, 101] }));
  assert.equal(draft.items['42']?.followUps, [100, 101]);
});

test('updateItem: a missing item throws, naming the issue, and nothing is added', () => {
  const draft = draftWith(42);
  assert.throws(
    () => updateItem(draft, 44, { status: 'failed' }),
    (error: unknown) => error instanceof Error && error.message === 'internal: state has no item #44 to update',
  );
  assert.equal(Object.keys(draft.items), ['42']);
});

test('updateItem: a new status clears `reported` (a second escalation is told again); other writes keep it', () => {
  const draft = draftWith(42);
  updateItem(draft, 42, { status: 'escalated' });
  updateItem(draft, 42, { reported: true });
  updateItem(draft, 42, { followUps: [100] });
  assert.is(draft.items['42']?.reported, true);
  updateItem(draft, 42, { status: 'escalated', failure: 'again' });
  assert.is(draft.items['42']?.reported, undefined);
  updateItem(draft, 42, { status: 'escalated', reported: true });
  assert.is(draft.items['42']?.reported, true);
});

test.run();
