/** The event stream: every event is appended to `events.jsonl` and handed to the renderer (docs/state.md). */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** One event; `type` says what happened, the rest is its detail. */
export type RunEvent =
  | { readonly type: 'run-start'; readonly milestone: string; readonly command: string; readonly pid: number }
  | { readonly type: 'run-end'; readonly exitCode: number; readonly message?: string }
  | { readonly type: 'step-start' | 'step-done' | 'step-skip'; readonly node: string }
  | { readonly type: 'step-failed'; readonly node: string; readonly message: string }
  | { readonly type: 'item'; readonly issue: number; readonly status: string; readonly detail?: string }
  | {
      readonly type: 'agent-spawned';
      readonly issue: number;
      readonly role: string;
      readonly pid: number;
      readonly attempt: number;
    }
  | {
      readonly type: 'agent-exited';
      readonly issue: number;
      readonly role: string;
      readonly exitCode: number | null;
      readonly detail?: string;
    }
  | {
      readonly type: 'merge';
      readonly issue: number;
      readonly kind: string;
      readonly sha: string | null;
      readonly note: string;
    }
  | {
      readonly type: 'gate';
      readonly name: string;
      readonly phase: string;
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

/** A sink that appends to `<dir>/events.jsonl` and calls `listener` with each event; `write: false` (--dry-run) only calls the listener. */
export function createEventSink(
  dir: string,
  listener?: (event: StampedEvent) => void,
  options: { readonly write?: boolean } = {},
): EventSink {
  const write = options.write ?? true;
  if (write) mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'events.jsonl');
  return {
    emit(event) {
      const stamped = { t: new Date().toISOString(), ...event } as StampedEvent;
      // One write per line with O_APPEND: lines of concurrent writers never interleave.
      if (write) appendFileSync(file, `${JSON.stringify(stamped)}\n`);
      listener?.(stamped);
    },
  };
}
