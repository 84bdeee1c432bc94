/**
 * The state journal (docs/state.md, "When state.json is written"): durable changes made since state.json was last
 * written whole, one JSON line each, appended and synced by the runner's store instead of rewriting the whole state
 * (which grows with the milestone: n items rewritten once per item is O(n²) bytes).
 *
 * A line is `{"on": "<tag>", "issue": "<n>", "item": {…}}` (an item as it then was; null: removed) or
 * `{"on": "<tag>", "key": "<record>", "value": …}` (a top-level record such as `refs` or `seq`; no value: removed).
 * `on` is the tag (`stateTag`) of the state.json the line goes on top of: lines written before the last whole write
 * (left by a crash before the journal was removed) are older than state.json and are skipped, never replayed over it.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { State } from './state-types.ts';
import { appendOwnFileSynced } from './own-file.ts';
import { readRegularFile } from './regular-file.ts';

/** The journal's file name in a milestone's state directory. */
export const STATE_JOURNAL = 'state.journal';

/** The tag of a state file's text: what a journal line names as the state it goes on top of. */
export function stateTag(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/** One change a journal line records. */
export type JournalEntry =
  | { readonly kind: 'item'; readonly issue: string; readonly item: unknown }
  | { readonly kind: 'record'; readonly key: string; readonly value: unknown };

/** Records a line may not set: the milestone is the file's identity, items go by issue. */
const NOT_RECORDS = new Set(['milestone', 'items']);

/** The line (with its newline) that records `entry` on top of the state tagged `on`. */
export function formatJournalLine(on: string, entry: JournalEntry): string {
  switch (entry.kind) {
    case 'item':
      return `${JSON.stringify({ on, issue: entry.issue, item: entry.item ?? null })}\n`;
    case 'record':
      return `${JSON.stringify({ on, key: entry.key, value: entry.value })}\n`;
  }
}

/**
 * The entries of journal `text` that go on top of the state tagged `tag`, in order; others and torn lines are left out.
 */
export function parseJournal(text: string, tag: string): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    let entry: { on?: unknown; issue?: unknown; item?: unknown; key?: unknown; value?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      // An empty line, or the last one cut short by a crash (never acknowledged to the runner).
      continue;
    }
    if (typeof entry !== 'object' || entry === null || entry.on !== tag) continue;
    if (typeof entry.issue === 'string' && typeof entry.item === 'object')
      entries.push({ kind: 'item', issue: entry.issue, item: entry.item });
    else if (typeof entry.key === 'string' && !NOT_RECORDS.has(entry.key))
      entries.push({ kind: 'record', key: entry.key, value: entry.value });
  }
  return entries;
}

/** `state` with `entries` applied in order (unchecked: the caller validates). */
function applyEntries(state: State, entries: readonly JournalEntry[]): State {
  const next: Record<string, unknown> = { ...state };
  const items: Record<string, unknown> = { ...state.items };
  for (const entry of entries) {
    switch (entry.kind) {
      case 'item':
        if (entry.item === null) delete items[entry.issue];
        else items[entry.issue] = entry.item;
        break;
      case 'record':
        if (entry.value === undefined) delete next[entry.key];
        else next[entry.key] = entry.value;
        break;
    }
  }
  return { ...next, items } as unknown as State;
}

/**
 * `state` with `entries` applied; when the whole does not pass `valid` (a line written by someone else), each line
 * that keeps the state valid is applied and the rest left out.
 */
export function applyJournal(state: State, entries: readonly JournalEntry[], valid: (s: State) => boolean): State {
  const all = applyEntries(state, entries);
  if (valid(all)) return all;
  let kept = state;
  for (const entry of entries) {
    const next = applyEntries(kept, [entry]);
    if (valid(next)) kept = next;
  }
  return kept;
}

/** The journal of `dir` as text ('' when there is none). */
export async function readJournal(dir: string): Promise<string> {
  try {
    return await readRegularFile(path.join(dir, STATE_JOURNAL));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Append `text` (journal lines) to the journal of `dir` and sync it before returning. */
export async function appendJournal(dir: string, text: string): Promise<void> {
  await appendOwnFileSynced(path.join(dir, STATE_JOURNAL), text);
}
