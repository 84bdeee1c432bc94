/**
 * At most `concurrency` agents at once (docs/steps.md, spawn), measured from the agents' own start/end times: through
 * `run --concurrency 2`, and through `step spawn` + `step wait` with `defaults.concurrency: 2`.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, makeRepo, readEvents, readStateFile, tempDir } from './support/fixture.ts';
import { linesOf, maxOverlap, rigItems, rigPlan, run, show, step, type RigItem } from './support/wave-rig.ts';

const FIVE: RigItem[][] = [[1, 2, 3, 4, 5].map((issue) => ({ issue, title: `Item ${issue}` }))];

/**
 * An agent that logs `start <ns> <pid>` / `end <ns>` to `$TIMES` and, in between, polls (bounded: 600 x 0.05 s)
 * until `until`; `$n` is its start's ordinal (appends of short lines are atomic, so ordinals are unique).
 */
const waitingAgent = (until: string) =>
  `echo "start $(date +%s%N) $$" >> "$TIMES"; n=$(grep '^start ' "$TIMES" | grep -n " $$$" | cut -d: -f1); i=0; until ${until} || [ $i -ge 600 ]; do sleep 0.05; i=$((i + 1)); done; echo "end $(date +%s%N)" >> "$TIMES"; ${COMMITTING_AGENT}`;

/**
 * Lives until the next agent has started (the fifth: not at all). Two agents always overlap, however busy the
 * machine; a runner that starts a third while two live shows it, with no fixed wait. Waiting for more than the next
 * one would deadlock a runner that keeps to 2.
 */
const PAIRED_AGENT = waitingAgent(`[ "$n" -ge 5 ] || [ "$(grep -c '^start ' "$TIMES")" -gt "$n" ]`);

/** Lives until the test creates `$RELEASE`. */
const RELEASED_AGENT = waitingAgent(`[ -e "$RELEASE" ]`);

test('run --concurrency 2 (plan says 3): never more than 2 agents alive, and 2 do run together', async () => {
  const repo = await makeRepo({ plan: rigPlan(FIVE, { command: PAIRED_AGENT }), items: rigItems(FIVE) });
  const times = path.join(tempDir('wm-times-'), 'times');
  try {
    const r = await run(repo, ['--concurrency', '2'], { TIMES: times });
    assert.is(r.code, 0, show(r));
    const lines = linesOf(times);
    assert.is(lines.filter((l) => l.startsWith('start ')).length, 5, lines.join('\n'));
    assert.is(lines.filter((l) => l.startsWith('end ')).length, 5, lines.join('\n'));
    assert.is(maxOverlap(lines), 2, lines.join('\n'));
    const items = readStateFile(repo).items;
    for (const i of [1, 2, 3, 4, 5]) assert.is(items[String(i)].status, 'complete', `#${i}`);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(times), { recursive: true, force: true });
  }
});

test('defaults.concurrency 2: spawn starts 2 of 5 (twice: still 2), wait starts the rest 2 at a time', async () => {
  const repo = await makeRepo({
    plan: rigPlan(FIVE, { command: RELEASED_AGENT, extra: { timeout: '60s', retries: 0, concurrency: 2 } }),
    items: rigItems(FIVE),
  });
  const times = path.join(tempDir('wm-times-'), 'times');
  const release = path.join(path.dirname(times), 'release');
  const env = { TIMES: times, RELEASE: release };
  try {
    for (const name of ['validate', 'prepare', 'branch', 'fetch']) assert.is((await step(repo, name)).code, 0, name);
    assert.is((await step(repo, 'worktrees', ['--wave', '1'])).code, 0);
    for (let i = 0; i < 2; i++) {
      const r = await step(repo, 'spawn', ['--wave', '1'], env);
      assert.is(r.code, 0, `spawn #${i + 1}: ${show(r)}`);
      const statuses = Object.values(readStateFile(repo).items).map((it: any) => it.status);
      assert.is(statuses.filter((s) => s === 'in-progress').length, 2, statuses.join());
      assert.is(statuses.filter((s) => s === 'pending').length, 3, statuses.join());
    }
    // Done looking at the first two (alive till now): they and the rest may finish.
    writeFileSync(release, '');
    const r = await step(repo, 'wait', ['--wave', '1'], env);
    assert.is(r.code, 0, show(r));
    const lines = linesOf(times);
    assert.is(lines.filter((l) => l.startsWith('start ')).length, 5, lines.join('\n'));
    assert.is(maxOverlap(lines), 2, lines.join('\n'));
    const items = readStateFile(repo).items;
    for (const i of [1, 2, 3, 4, 5]) assert.is(items[String(i)].status, 'complete', `#${i}`);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(times), { recursive: true, force: true });
  }
});

test('a parallel: false wave runs its items one after another, whatever the concurrency', async () => {
  const three: RigItem[][] = [[1, 2, 3].map((issue) => ({ issue, title: `Item ${issue}` }))];
  const repo = await makeRepo({
    plan: rigPlan(three, { command: waitingAgent('true'), serial: true }),
    items: rigItems(three),
  });
  const times = path.join(tempDir('wm-times-'), 'times');
  try {
    const r = await run(repo, ['--concurrency', '3'], { TIMES: times });
    assert.is(r.code, 0, show(r));
    const lines = linesOf(times);
    assert.is(lines.filter((l) => l.startsWith('end ')).length, 3, lines.join('\n'));
    assert.is(maxOverlap(lines), 1, lines.join('\n'));
    // The runner's own record: each agent was spawned only after the one before it had exited.
    const order = readEvents(repo)
      .filter((e) => e.type === 'agent-spawned' || e.type === 'agent-exited')
      .map((e) => `${e.type === 'agent-spawned' ? 'spawned' : 'exited'} ${e.issue}`);
    assert.equal(order, ['spawned 1', 'exited 1', 'spawned 2', 'exited 2', 'spawned 3', 'exited 3']);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(times), { recursive: true, force: true });
  }
});

test.run();
