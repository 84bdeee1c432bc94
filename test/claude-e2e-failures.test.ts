/**
 * Failure paths with the REAL `claude` CLI as the agent, offline against the scripted model server:
 * - the model server answers one item with HTTP 500 every time → the CLI gives up (CLAUDE_CODE_MAX_RETRIES=1),
 *   the item is retried once, then failed; its dependant is skipped; the rest lands on origin; exit 3 naming
 *   both. With the server healthy again, `run` retries just those two (the others' agents are not started
 *   again) and lands them. Nothing is ever half-merged.
 * - an agent that leaves its work uncommitted and claims COMPLETE → failed ("committed nothing"), never merged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServer, type ScriptedAgent } from '../tasks/demo/model-server.ts';
import { commitAll, reportStep, write } from '../tasks/demo/scenario.ts';
import { claudeEnv, git, gitOk, makeRepo, readEvents, readStateFile, runCli, tempDir } from './support/fixture.ts';
import { assertMergesHaveTwoParents, claudePlan, describeRun, keepRequested } from './support/e2e.ts';

const keep = keepRequested;

/** An item agent that writes `<name>.txt`, commits it and reports COMPLETE. */
function committingAgent(issue: number, name: string, branch: string): ScriptedAgent {
  const file = `${name}.txt`;
  const message = `feat: ${name} (#${issue})`;
  return {
    match: `Issue #${issue}:`,
    steps: [
      write(file, `${name}\n`),
      commitAll(message),
      reportStep({ status: 'COMPLETE', branch, files: [file], commits: [message], notes: `wrote ${file}` }),
    ],
  };
}

const describe = describeRun;

const requestsFor = (server: ModelServer, match: string) => server.requests.filter((r) => r.match === match).length;

// ---------------------------------------------------------------------------------------------------------
// HTTP 500 → retried, failed, dependants skipped, the rest lands; run again → just those, landed.

const PLAN_500 = claudePlan('Flaky model', [
  [
    { issue: 21, title: 'Alpha' },
    { issue: 22, title: 'Beta' },
  ],
  [
    { issue: 23, title: 'Gamma', dependsOn: [21] },
    { issue: 24, title: 'Delta', dependsOn: [22] },
  ],
]);

const healthy = (): ScriptedAgent[] => [
  committingAgent(21, 'alpha', 'work/7-21-alpha'),
  committingAgent(22, 'beta', 'work/7-22-beta'),
  committingAgent(23, 'gamma', 'work/7-23-gamma'),
  committingAgent(24, 'delta', 'work/7-24-delta'),
];

test('HTTP 500 for one item: retried then failed, its dependant skipped, the rest lands; run again lands just those', async () => {
  const agents = healthy();
  const server = await startModelServer(
    agents.map((a) => (a.match === 'Issue #21:' ? { ...a, failFirst: { count: 1000, status: 500 } } : a)),
  );
  const home = tempDir('wm-claude-home-');
  const repo = await makeRepo({
    plan: PLAN_500,
    origin: true,
    items: [21, 22, 23, 24].map((issue) => ({
      issue,
      title: ['Alpha', 'Beta', 'Gamma', 'Delta'][issue - 21] as string,
    })),
  });
  const env = claudeEnv(server.url, home);
  const integration = path.join(repo.dir, 'worktrees', 'milestone-7');
  try {
    // --- first run: exit 3, #21 failed (after 2 attempts), #23 skipped, #22 and #24 landed on origin.
    const first = await runCli('run', ['7', '--repo', repo.dir, '--yes'], { env, timeoutMs: 100_000 });
    assert.is(first.code, 3, describe(first));
    const output = first.stdout + first.stderr;
    assert.match(output, /#21 failed/, describe(first));
    assert.match(output, /#23 skipped/, describe(first));
    assert.match(output, /500/, 'the failure names the HTTP status');
    let st = readStateFile(repo);
    assert.is(st.items['21'].status, 'failed');
    assert.is(st.items['21'].attempts, 2, 'one retry');
    assert.match(st.items['21'].failure, /API Error: 500/);
    assert.match(st.items['21'].failure, /HTTP 500/);
    assert.is(st.items['23'].status, 'skipped');
    assert.match(st.items['23'].skipReason, /#21/);
    assert.is(st.items['23'].attempts, 0, 'a skipped item never starts an agent');
    assert.is(requestsFor(server, 'Issue #23:'), 0);
    // With CLAUDE_CODE_MAX_RETRIES=1 the CLI asks twice per attempt: 2 attempts → 4 requests, all answered 500.
    assert.is(requestsFor(server, 'Issue #21:'), 4);
    for (const issue of ['22', '24']) assert.is(st.items[issue].status, 'complete');
    const originMain = await git(repo.origin as string, 'rev-parse', 'main');
    assert.is(originMain, await git(repo.dir, 'rev-parse', 'main'), 'the rest was pushed');
    assert.is(await git(repo.origin as string, 'show', 'main:beta.txt'), 'beta');
    assert.is(await git(repo.origin as string, 'show', 'main:delta.txt'), 'delta');
    assert.not.ok(await gitOk(repo.origin as string, 'cat-file', '-e', 'main:alpha.txt'));
    assert.equal((await assertMergesHaveTwoParents(repo.origin as string, 'main')).sort(), [
      'Merge #22: Beta',
      'Merge #24: Delta',
    ]);
    if (existsSync(integration))
      assert.not.ok(
        await gitOk(integration, 'rev-parse', '-q', '--verify', 'MERGE_HEAD'),
        'no merge in progress after run 1',
      );
    const before = Object.fromEntries(agents.map((a) => [a.match, requestsFor(server, a.match)]));

    // --- the model is healthy again: run retries just #21 and #23 and lands them.
    server.setScenario(healthy());
    const second = await runCli('run', ['7', '--repo', repo.dir, '--yes'], { env, timeoutMs: 100_000 });
    assert.is(second.code, 0, describe(second));
    assert.is(requestsFor(server, 'Issue #22:'), before['Issue #22:'], '#22 was not started again');
    assert.is(requestsFor(server, 'Issue #24:'), before['Issue #24:'], '#24 was not started again');
    assert.ok(requestsFor(server, 'Issue #21:') > (before['Issue #21:'] ?? 0), '#21 was retried');
    assert.ok(requestsFor(server, 'Issue #23:') > 0, '#23 ran');
    const spawned = readEvents(repo).filter((e) => e.type === 'agent-spawned' && e.role === 'item');
    const perIssue = (issue: number) => spawned.filter((e) => e.issue === issue).length;
    assert.equal(
      [perIssue(21), perIssue(22), perIssue(23), perIssue(24)],
      [3, 1, 1, 1],
      'agent starts per item over both runs',
    );
    st = readStateFile(repo);
    for (const issue of ['21', '22', '23', '24'])
      assert.ok(['complete'].includes(st.items[issue].status), `#${issue} ${st.items[issue].status}`);
    assert.ok(st.items['21'].result.costUsd > 0, 'the successful attempt has a cost');
    assert.is(
      await git(repo.origin as string, 'rev-parse', 'main'),
      await git(repo.dir, 'rev-parse', 'main'),
      'pushed',
    );
    for (const name of ['alpha', 'beta', 'gamma', 'delta'])
      assert.is(await git(repo.origin as string, 'show', `main:${name}.txt`), name);
    assert.equal((await assertMergesHaveTwoParents(repo.origin as string, 'main')).sort(), [
      'Merge #21: Alpha',
      'Merge #22: Beta',
      'Merge #23: Gamma',
      'Merge #24: Delta',
    ]);
    assert.ok(
      await gitOk(repo.origin as string, 'merge-base', '--is-ancestor', originMain, 'main'),
      'the second landing builds on the first (no force)',
    );
    if (existsSync(integration))
      assert.not.ok(
        await gitOk(integration, 'rev-parse', '-q', '--verify', 'MERGE_HEAD'),
        'no merge in progress after run 2',
      );
    assert.is(await git(repo.dir, 'status', '--porcelain'), '');
    for (const issue of [21, 22, 23, 24])
      assert.match(await git(repo.origin as string, 'show', `main:plan/backlog/${issue}.md`), /status: done/);
  } finally {
    await server.close();
    if (!keep()) {
      repo.cleanup();
      rmSync(home, { recursive: true, force: true });
    } else console.log(`kept ${repo.root}`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// COMPLETE without a commit → failed, nothing merged for it.

const PLAN_LAZY = claudePlan('Lazy agent', [
  [
    { issue: 31, title: 'Worker' },
    { issue: 32, title: 'Talker' },
  ],
]);

test('an agent that commits nothing and claims COMPLETE: failed, nothing merged for it, the rest lands', async () => {
  const lazy: ScriptedAgent = {
    match: 'Issue #32:',
    steps: [
      write('talk.txt', 'all talk\n'),
      reportStep({
        status: 'COMPLETE',
        branch: 'work/7-32-talker',
        files: ['talk.txt'],
        commits: ['abc1234 feat: talk'],
        notes: 'all done, trust me',
      }),
    ],
  };
  const server = await startModelServer([committingAgent(31, 'worker', 'work/7-31-worker'), lazy]);
  const home = tempDir('wm-claude-home-');
  const repo = await makeRepo({
    plan: PLAN_LAZY,
    origin: true,
    items: [
      { issue: 31, title: 'Worker' },
      { issue: 32, title: 'Talker' },
    ],
  });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes'], {
      env: claudeEnv(server.url, home),
      timeoutMs: 100_000,
    });
    assert.is(r.code, 3, describe(r));
    assert.match(r.stdout + r.stderr, /#32 failed/, describe(r));
    assert.match(r.stdout + r.stderr, /committed nothing/, describe(r));
    const st = readStateFile(repo);
    const talker = st.items['32'];
    assert.is(talker.status, 'failed');
    assert.match(talker.failure, /committed nothing/);
    assert.is(talker.attempts, 2, 'retried once, as the plan says');
    assert.is(requestsFor(server, 'Issue #32:'), 4, 'two CLI sessions of 2 model calls each');
    assert.is(talker.merge, null);
    assert.equal(talker.result.commits, []);
    assert.ok(talker.result.uncommitted.includes('talk.txt'), 'the uncommitted file is reported');
    assert.ok(talker.result.costUsd > 0, 'the session still has its cost');
    // Nothing of #32 anywhere on main or the integration branch; #31 landed.
    for (const rev of ['main', 'refs/heads/milestone/7-lazy-agent']) {
      if (!(await gitOk(repo.dir, 'rev-parse', '-q', '--verify', rev))) continue;
      assert.not.ok(await gitOk(repo.dir, 'cat-file', '-e', `${rev}:talk.txt`), `${rev} has no talk.txt`);
      assert.not.match(await git(repo.dir, 'log', '--format=%s', rev), /#32/);
    }
    assert.is(await git(repo.origin as string, 'show', 'main:worker.txt'), 'worker');
    assert.not.ok(await gitOk(repo.origin as string, 'cat-file', '-e', 'main:talk.txt'));
    assert.equal(await assertMergesHaveTwoParents(repo.origin as string, 'main'), ['Merge #31: Worker']);
    // The unmerged work is kept where it is, for a human: the item branch exists and was never merged.
    assert.ok(await gitOk(repo.dir, 'rev-parse', '-q', '--verify', 'refs/heads/work/7-32-talker'));
    assert.ok(
      existsSync(path.join(repo.dir, 'worktrees', '7-32-talker', 'talk.txt')),
      'the uncommitted file is left in its worktree',
    );
    const result = JSON.parse(readFileSync(path.join(repo.stateDir, 'items', '32', 'result-2.json'), 'utf8'));
    assert.is(result.status, 'failed');
  } finally {
    await server.close();
    if (!keep()) {
      repo.cleanup();
      rmSync(home, { recursive: true, force: true });
    } else console.log(`kept ${repo.root}`);
  }
});

test.run();
