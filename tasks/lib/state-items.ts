/** Changes to one item of a state draft. */
import type { Draft } from './state.ts';
import type { ItemState, State } from './state-types.ts';

type ItemDraft = Draft<ItemState>;

/**
 * Apply `patch` (or what it computes from the item) to item `issue` of `draft`, and return the item. Every item of the
 * plan has a state entry from `validate` on, so a missing one is a bug: it throws instead of dropping the write.
 */
export function updateItem(
  draft: Draft<State>,
  issue: number,
  patch: Partial<ItemDraft> | ((item: ItemDraft) => Partial<ItemDraft>),
): ItemDraft {
  const item = draft.items[String(issue)];
  if (!item) throw new Error(`internal: state has no item #${issue} to update`);
  const changes = typeof patch === 'function' ? patch(item) : patch;
  // A new status (an escalation again, say) has not been told yet.
  if (changes.status !== undefined && changes.reported === undefined) delete item.reported;
  return Object.assign(item, changes);
}
