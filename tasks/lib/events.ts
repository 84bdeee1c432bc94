/** The event stream: every event is appended to `events.jsonl` and handed to the renderer (docs/state.md). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { readTail } from './bounded-text.ts';
import { appendOwnFileSync } from './own-file.ts';
import type { FailureCode, GateResult, ItemMerge, ItemStatus } from './state-types.ts';

/** Who an agent works for: an item, a merge conflict, a red gate. */
export type AgentRole = 'item' | 'conflict' | 'fix';

/** One event, a closed union on `type` (what happened); the rest is its detail. Every emitter builds one of these. */
export type RunEvent =
  | { readonly type: 'run-start'; readonly milestone: string; readonly command: string; readonly pid: number }
  | { readonly type: 'run-end'; readonly exitCode: number; readonly message?: string }
  | { readonly type: 'step-start' | 'step-done' | 'step-skip'; readonly node: string }
  | { readonly type: 'step-failed'; readonly node: string; readonly message: string }
  | {
      readonly type: 'item';
      readonly issue: number;
      /** The item's new status; `retrying` is `pending` again after a failed attempt with retries left. */
      readonly status: ItemStatus | 'retrying';
      readonly detail?: string;
      /** Why it failed or was skipped (with `status` failed, skipped, escalated or retrying). */
      readonly failureCode?: FailureCode;
    }
  | {
      readonly type: 'agent-spawned';
      readonly issue: number;
      readonly role: AgentRole;
      readonly pid: number;
      readonly attempt: number;
    }
  | {
      readonly type: 'agent-exited';
      readonly issue: number;
      readonly role: AgentRole;
      readonly exitCode: number | null;
      readonly detail?: string;
    }
  | {
      readonly type: 'merge';
      readonly issue: number;
      readonly kind: ItemMerge['kind'];
      readonly sha: string | null;
      readonly note: string;
    }
  | {
      readonly type: 'gate';
      readonly name: string;
      readonly phase: GateResult['phase'];
      readonly exitCode: number;
      readonly sha: string;
    }
  | { readonly type: 'land'; readonly phase: 'merged' | 'pushed'; readonly sha: string }
  | { readonly type: 'notice'; readonly message: string };

/** An event with its time, as written to events.jsonl. */
export type StampedEvent = RunEvent & { readonly t: string };

/** Where events go: the file, plus a listener (renderer or `--json` printer). */
export interface EventSink {
  emit(event: RunEvent): void;
}

/**
 * A sink that appends to `<dir>/events.jsonl` and calls `listener` with each event; `write: false` (--dry-run) only
 * calls the listener. `afterWrite` sees each event once it is written and shown (the crash tests' kill point).
 */
export function createEventSink(
  dir: string,
  listener?: (event: StampedEvent) => void,
  options: { readonly write?: boolean; readonly afterWrite?: ((event: StampedEvent) => void) | null } = {},
): EventSink {
  const write = options.write ?? true;
  if (write) mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'events.jsonl');
  return {
    emit(event) {
      const stamped = { t: new Date().toISOString(), ...event } as StampedEvent;
      // One write per line with O_APPEND: lines of concurrent writers never interleave.
      if (write) appendOwnFileSync(file, `${JSON.stringify(stamped)}\n`);
      listener?.(stamped);
      options.afterWrite?.(stamped);
    },
  };
}

/** The events at the end of `<dir>/events.jsonl` (its last `maxBytes`: a long run's log is never read whole). */
export function readEventLog(dir: string, maxBytes: number): StampedEvent[] {
  return readTail(path.join(dir, 'events.jsonl'), maxBytes)
    .text.split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        const e = JSON.parse(line) as StampedEvent;
        return typeof e.type === 'string' && typeof e.t === 'string' ? [e] : [];
      } catch {
        return [];
      }
    });
}
