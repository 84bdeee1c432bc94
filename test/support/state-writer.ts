/**
 * A concurrent writer for test/state.test.ts, run as its own process:
 *   node --import tsx test/support/state-writer.ts state <dir> <issue> <count> [gate]   count update()s: +1 on item
 * <issue>'s attempts and on the shared `seq`
 *   node --import tsx test/support/state-writer.ts events <dir> <issue> <count> [gate]  count appends to events.jsonl,
 * each a long line
 * With a gate file, the writer stops after half its count until the test has created that file: the test's check then
 * provably happens while this writer is not done (no timing).
 */
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createEventSink } from '../../tasks/lib/events.ts';
import { openStateStore } from '../../tasks/lib/state.ts';
import { emptyItem, type ItemStatus } from '../../tasks/lib/state-types.ts';

const [mode, dir, issueArg, countArg, gate] = process.argv.slice(2);
const issue = Number(issueArg);
const count = Number(countArg);
if (!dir || !Number.isInteger(issue) || !Number.isInteger(count)) {
  process.stderr.write('usage: state-writer.ts state|events <dir> <issue> <count>\n');
  process.exit(2);
}

/** At the half of the count, wait for the gate file (bounded: a guard against a hung test, not an ordering). */
async function passGate(i: number): Promise<void> {
  if (!gate || i !== count >> 1) return;
  for (let tries = 0; !existsSync(gate) && tries < 12_000; tries++) await sleep(5);
}

if (mode === 'state') {
  const store = await openStateStore(dir, '7');
  for (let i = 0; i < count; i++) {
    await passGate(i);
    await store.update((s) => {
      const key = String(issue);
      const item = s.items[key] ?? emptyItem(issue, 1);
      s.items = { ...s.items, [key]: { ...item, attempts: item.attempts + 1 } };
      // Read-modify-write of a field both writers share.
      s.seq = s.seq + 1;
    });
  }
} else if (mode === 'events') {
  const sink = createEventSink(dir);
  // Lines longer than a pipe buffer (4 KiB) and a page: an interleaved write would show as a broken line.
  const detail = `${issue}:`.padEnd(20_000, String(issue % 10));
  // Sequence markers in place of a status: the test checks only each writer's order.
  for (let i = 0; i < count; i++) {
    await passGate(i);
    sink.emit({ type: 'item', issue, status: `n${i}` as ItemStatus, detail });
  }
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
