/**
 * Drafts of an in-memory state (lib/state.ts, write-behind mode): an update works on a copy that clones only what it
 * touches, and says whether it changed something a crash must not lose (docs/performance.md, "State writes").
 */
import type { ItemState, State } from './state-types.ts';

/**
 * A map whose entries are cloned when first read or written through `proxy`; the rest stay shared with the old state.
 */
interface LazyMap {
  readonly proxy: Record<string, unknown>;
  readonly target: Record<string, unknown>;
  readonly touched: ReadonlySet<string>;
}

function lazyMap(source: Readonly<Record<string, unknown>>): LazyMap {
  const target: Record<string, unknown> = { ...source };
  const touched = new Set<string>();
  const own = (key: string | symbol): key is string => typeof key === 'string' && Object.hasOwn(target, key);
  const proxy = new Proxy(target, {
    get(t, key) {
      if (own(key) && !touched.has(key)) {
        touched.add(key);
        t[key] = structuredClone(t[key]);
      }
      return Reflect.get(t, key);
    },
    set(t, key, value) {
      if (typeof key === 'string') touched.add(key);
      return Reflect.set(t, key, value);
    },
    deleteProperty(t, key) {
      if (typeof key === 'string') touched.add(key);
      return Reflect.deleteProperty(t, key);
    },
  });
  return { proxy, target, touched };
}

/** Keys whose maps are cloned lazily (they grow with the milestone); every other top-level value is cloned whole. */
const MAPS = ['items', 'cache'] as const;

/** An update's working copy and how to finish it. */
export interface StateDraft {
  /** What the update function changes. */
  readonly draft: State;
  /** The state after the change (plain objects, no proxies left). */
  finish(): FinishedDraft;
}

/** What an update changed, as its writing needs it. */
export interface FinishedDraft {
  readonly state: State;
  /** Anything a crash must not lose: a key in `changedKeys`, or an item in `durableItems`. */
  readonly durable: boolean;
  /**
   * Top-level records that changed (refs, landing, gates, seq, …; not items or the backlog cache): the runner's word on
   * git.
   */
  readonly changedKeys: readonly string[];
  /** Items whose durable part changed (`durablePart`). */
  readonly durableItems: readonly string[];
  /** Something changed that neither of the above covers (an item's worktree or texts, the backlog cache). */
  readonly deferred: boolean;
}

/**
 * What of an item a crash must not lose: that an attempt was made and which process runs it (an agent is never
 * started twice), its judged pin, its merge, its follow-ups, its status. Worktree facts, results and failure texts
 * are re-derived from git and the run files after a crash (engine/rebuild-state.ts, re-attaching).
 */
function durablePart(item: ItemState | undefined): string {
  if (!item) return DURABLE_NONE;
  return JSON.stringify([
    item.status,
    item.attempts,
    item.attemptBase ?? 0,
    item.process,
    item.pinned ?? null,
    item.merge,
    item.followUps,
    item.skipReason,
  ]);
}
const DURABLE_NONE = JSON.stringify(['pending', 0, 0, null, null, null, [], null]);

/** Start a draft of `state`. */
export function draftState(state: State): StateDraft {
  const copy: Record<string, unknown> = { ...state };
  for (const [key, value] of Object.entries(copy))
    if (!(MAPS as readonly string[]).includes(key) && typeof value === 'object' && value !== null)
      copy[key] = structuredClone(value);
  const maps = { items: lazyMap(state.items), cache: lazyMap(state.cache) };
  copy.items = maps.items.proxy;
  copy.cache = maps.cache.proxy;
  return {
    draft: copy as unknown as State,
    finish() {
      // A change that replaced a whole map (`s.items = …`) keeps its own; every entry then counts as touched.
      const mapOf = (key: (typeof MAPS)[number]) => (copy[key] === maps[key].proxy ? maps[key].target : copy[key]);
      const next = { ...copy, items: mapOf('items'), cache: mapOf('cache') } as unknown as State;
      const touched =
        copy.items === maps.items.proxy
          ? maps.items.touched
          : new Set([...Object.keys(state.items), ...Object.keys(next.items)]);
      // Any top-level record but the backlog cache (fetched again after a crash) is the runner's word on git.
      const changedKeys = Object.keys({ ...state, ...next }).filter(
        (key) =>
          !(MAPS as readonly string[]).includes(key) &&
          JSON.stringify((state as unknown as Record<string, unknown>)[key]) !==
            JSON.stringify((next as unknown as Record<string, unknown>)[key]),
      );
      const durableItems = [...touched].filter((key) => durablePart(state.items[key]) !== durablePart(next.items[key]));
      // Touched (read) counts as changed: at worst a write on the tick that changes nothing.
      const deferred =
        touched.size > durableItems.length || maps.cache.touched.size > 0 || copy.cache !== maps.cache.proxy;
      return {
        state: next,
        durable: changedKeys.length > 0 || durableItems.length > 0,
        changedKeys,
        durableItems,
        deferred,
      };
    },
  };
}
