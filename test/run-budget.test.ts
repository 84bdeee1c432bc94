/**
 * The run's budget (docs/plan-format.md, top-level `max-budget-usd`), with the REAL `claude` CLI as the agents against
 * the scripted model server (every answered request costs $0.005, so an item costs about $0.0075): a budget below the
 * cost of the items stops dispatching (running agents finish), the run exits 3 with the spend in its message, and a
 * run with a higher budget continues and lands. The spend is what state records (every attempt, every session).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startModelServer, type ScriptedAgent } from '../tasks/demo/model-server.ts';
import { commitAll, reportStep, write } from '../tasks/demo/scenario.ts';
import { spentUsd } from '../tasks/lib/run-budget.ts';
import { CLAUDE_BIN, claudeEnv, git, makeRepo, readEvents, readStateFile, tempDir } from './support/fixture.ts';
import { runInProcess } from './support/cli.ts';
import { CLAUDE_PLAN_DEFAULTS, describeRun } from './support/e2e.ts';
import { planYaml, type PlanItem } from './support/plan.ts';
import type { State } from '../tasks/lib/state-types.ts';

const ITEMS = [
  { issue: 1, title: 'One' },
  { issue: 2, title: 'Two' },
  { issue: 3, title: 'Three' },
];

const SCENARIO: readonly ScriptedAgent[] = ITEMS.map(({ issue }) => ({
  match: `Issue #${issue}:`,
  steps: [
    write(`item-${issue}.txt`, `${issue}\n`),
    commitAll(`item ${issue}`),
    reportStep({ status: 'COMPLETE', files: [`item-${issue}.txt`], commits: [`item ${issue}`], notes: 'done' }),
  ],
}));

/** One wave of three items, two agents at once, the whole run bounded by `budget` dollars. */
const plan = (budget: number) =>
  planYaml({
    title: 'Budget',
    top: { groomed: true, 'max-budget-usd': budget },
    waves: [{ items: ITEMS }],
    defaults: { ...CLAUDE_PLAN_DEFAULTS, concurrency: 2, retries: 0 },
  });

test('a budget below the items cost: the running agents stop at it, no new agent starts, exit 3 with the spend; a higher one continues', async () => {
  const server = await startModelServer(SCENARIO);
  const home = tempDir('wm-budget-home-');
  const r = await makeRepo({ plan: plan(0.005), items: ITEMS });
  try {
    const env = claudeEnv(server.url, home);
    const requests = (issue: number) => server.requests.filter((q) => q.match === `Issue #${issue}:`).length;
    const stopped = await runInProcess('run', ['7', '--repo', r.dir, '--yes'], { env });
    assert.is(stopped.code, 3, describeRun(stopped));
    const state = readStateFile(r) as State;
    // The first two started together, each with what was left of the budget as its own cap: claude stopped them
    // there. The third never started.
    for (const issue of [1, 2]) {
      assert.is(state.items[String(issue)]?.status, 'failed', describeRun(stopped));
      assert.match(state.items[String(issue)]?.failure ?? '', 'budget_exhausted');
    }
    assert.is(state.items['3']?.status, 'pending');
    assert.is(state.items['3']?.attempts, 0);
    assert.is(requests(3), 0);
    const spent = spentUsd(state);
    assert.ok(spent >= 0.005, `spent ${spent}`);
    // The spend when #3 was due: at least the budget, at most what the run spent in the end.
    const message = stopped.stderr.split('\n')[0] as string;
    const at =
      /^run budget reached: agents had spent \$(\d+\.\d{4}) of max-budget-usd \$0\.0050 when #3 was due to start; it was not started, agents already running were left to finish; raise max-budget-usd in plan\/milestone-7-dispatch\.yaml and run again to continue$/.exec(
        message,
      );
    assert.ok(at, message);
    assert.ok(Number(at?.[1]) >= 0.005 && Number(at?.[1]) <= Number(spent.toFixed(4)), message);
    assert.is(await git(r.dir, 'rev-parse', 'main'), await git(r.dir, 'rev-parse', 'HEAD'));
    assert.is((await git(r.dir, 'log', '--format=%s', 'main')).split('\n').length, 1, 'main did not move');

    // A higher budget: the run retries the stopped items, runs the one left and lands the milestone.
    writeFileSync(path.join(r.dir, 'plan', 'milestone-7-dispatch.yaml'), plan(1));
    // Committed, as a user would (landing needs a clean checkout); main moved, and the run merges it in.
    await git(r.dir, 'commit', '-qam', 'raise the run budget');
    const continued = await runInProcess('run', ['7', '--repo', r.dir, '--yes'], { env });
    assert.is(continued.code, 0, describeRun(continued));
    assert.ok(requests(3) >= 3, `#3: ${requests(3)} requests`);
    for (const issue of [1, 2, 3]) {
      assert.is(readStateFile(r).items[String(issue)]?.status, 'complete');
      assert.is(await git(r.dir, 'show', `main:item-${issue}.txt`), String(issue));
    }
    assert.ok(spentUsd(readStateFile(r) as State) > spent);
  } finally {
    await server.close();
    r.cleanup();
    rmSync(home, { recursive: true, force: true });
  }
});

test("each claude agent's --max-budget-usd is its own cap lowered to what is left of the run's budget", async () => {
  const server = await startModelServer(SCENARIO);
  const home = tempDir('wm-budget-home-');
  const budget = 0.04;
  const r = await makeRepo({
    plan: planYaml({
      title: 'Budget',
      top: { groomed: true, 'max-budget-usd': budget },
      waves: [{ items: ITEMS }],
      defaults: { ...CLAUDE_PLAN_DEFAULTS, concurrency: 1, retries: 0, 'max-budget-usd': 5 },
    }),
    items: ITEMS,
  });
  try {
    // The real claude, behind a wrapper that records the cap each agent was given.
    const log = path.join(home, 'caps.log');
    const wrapper = path.join(home, 'claude');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nfor a in "$@"; do [ "$prev" = --max-budget-usd ] && echo "$a" >> "${log}"; prev=$a; done\nexec "${CLAUDE_BIN}" "$@"\n`,
      { mode: 0o755 },
    );
    const ran = await runInProcess('run', ['7', '--repo', r.dir, '--yes'], {
      env: { ...claudeEnv(server.url, home), CLAUDE_BIN: wrapper },
    });
    assert.is(ran.code, 0, describeRun(ran));
    const caps = readFileSync(log, 'utf8').trim().split('\n').map(Number);
    const state = readStateFile(r) as State;
    const cost = (issue: number) => state.items[String(issue)]?.result?.costUsd ?? 0;
    // One at a time, in plan order: each cap is the budget less what the agents before it spent (under 5 each).
    const expected = [budget, budget - cost(1), budget - cost(1) - cost(2)];
    assert.is(caps.length, 3, caps.join(' '));
    caps.forEach((cap, i) => assert.ok(Math.abs(cap - (expected[i] as number)) < 1e-6, `${caps} vs ${expected}`));
    assert.ok(cost(1) > 0 && (caps[2] as number) < (caps[0] as number), `${caps}`);
  } finally {
    await server.close();
    r.cleanup();
    rmSync(home, { recursive: true, force: true });
  }
});

test('max-budget-usd must be a positive number, at its line and column (exit 2, nothing changed)', async () => {
  const r = await makeRepo({ plan: plan(0.005).replace('max-budget-usd: 0.005', 'max-budget-usd: 0'), items: ITEMS });
  try {
    const planned = await runInProcess('plan', ['7', '--repo', r.dir]);
    assert.is(planned.code, 2, planned.stdout);
    assert.match(planned.stderr, /^plan\/milestone-7-dispatch\.yaml:\d+:\d+ error: max-budget-usd /m);
  } finally {
    r.cleanup();
  }
});

test('codex agents are not priced: with a budget, validate says their spend is not counted', async () => {
  const codexPlan = planYaml({
    title: 'Budget',
    top: { groomed: true, 'max-budget-usd': 5 },
    waves: [{ items: [ITEMS[0] as PlanItem, { ...(ITEMS[1] as PlanItem), extra: { agent: 'codex' } }] }],
    defaults: { agent: 'claude' },
  });
  const r = await makeRepo({ plan: codexPlan, items: ITEMS.slice(0, 2) });
  try {
    const validated = await runInProcess('step', ['validate', '7', '--repo', r.dir]);
    assert.is(validated.code, 0, validated.stderr);
    const notices = readEvents(r)
      .filter((e) => e.type === 'notice')
      .map((e) => e.message as string);
    assert.equal(notices, [
      'max-budget-usd bounds the agents that report a dollar cost (claude); codex reports tokens only, so what #2 spend is not counted',
    ]);
  } finally {
    r.cleanup();
  }
});

test.run();
