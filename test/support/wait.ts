/** Waiting on what a test controls or observes: a file, a line, a condition; never a fixed time. */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Poll `probe` until it returns a value (not undefined/false), or throw after `timeoutMs`. The bound only keeps a
 * broken test from hanging; no assertion depends on it.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Wait until `file` exists. */
export async function waitForFile(file: string, what = file, timeoutMs = 30_000): Promise<void> {
  await waitFor(what, () => existsSync(file), timeoutMs);
}

/** Lines of a file (none when it does not exist). */
export function linesOf(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * A shell loop for agent scripts: wait until `file` exists, bounded (`limitS` seconds) only so that a failed test
 * leaves no agent behind for ever.
 */
export function shWaitForFile(file: string, limitS = 120): string {
  return `i=0; while [ ! -e ${file} ] && [ $i -lt ${limitS * 20} ]; do sleep 0.05; i=$((i + 1)); done`;
}
