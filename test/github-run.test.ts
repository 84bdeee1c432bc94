/**
 * Whole milestones read from GitHub Issues (the loopback GitHub server; git's origin a local bare repository): the
 * milestone lands, its issues are closed with the landed sha, the milestone is closed and the summary printed; stale
 * plans are refused; a PARTIAL item's follow-up issue is created once, also when the runner is killed right after
 * GitHub created it; a secondary rate limit is waited out; a bad token is exit 2.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  COMMITTING_AGENT,
  git,
  makeRepo,
  readStateFile,
  runCli,
  tempDir,
  writeAgent,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { startKillable } from './support/cli.ts';
import { SECONDARY_RATE_LIMIT, startGithubServer, type GithubServer } from './support/github-server.ts';

const TOKEN = 'ghp_loopback';

interface Rig {
  readonly repo: TestRepo;
  readonly github: GithubServer;
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

const TWO_ITEMS = `  - wave: 1
    items:
      - {issue: 1, title: "Alpha"}
      - {issue: 2, title: "Beta"}`;

async function rig(command: string, extraIssues: ReadonlyArray<{ number: number; title: string }> = []): Promise<Rig> {
  const plan = `milestone: {number: 7, title: "Search"}
backlog: {kind: github, repo: acme/widgets}
waves:
${TWO_ITEMS}
defaults: {agent: command, retries: 0, timeout: 30s, command: ${JSON.stringify(command)}}
`;
  const repo = await makeRepo({ plan, items: [], origin: true });
  const github = await startGithubServer({
    repo: 'acme/widgets',
    token: TOKEN,
    milestones: [{ number: 7, title: 'Search' }],
    issues: [{ number: 1, title: 'Alpha', labels: ['P1'] }, { number: 2, title: 'Beta' }, ...extraIssues],
  });
  return {
    repo,
    github,
    env: { GITHUB_API_URL: github.url, GH_TOKEN: TOKEN, WM_GITHUB_WRITE_GAP_MS: '0' },
    cleanup: async () => {
      await github.close();
      repo.cleanup();
    },
  };
}

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const run = (r: Rig, env: Record<string, string> = {}) =>
  runCli('run', ['7', '--repo', r.repo.dir], { env: { ...r.env, ...env } });

test('a milestone read from GitHub lands; its issues are closed with the landed sha; the milestone is closed; the summary is printed', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const result = await run(r);
    assert.is(result.code, 0, output(result));
    const landed = await git(r.repo.origin ?? '', 'rev-parse', 'main');
    assert.is(await git(r.repo.origin ?? '', 'show', `${landed}:item-1.txt`), '1');
    for (const n of [1, 2]) {
      assert.is(r.github.issues.get(n)?.state, 'closed', `#${n} closed`);
      const comments = r.github.comments.filter((c) => c.issue === n);
      assert.is(comments.length, 1);
      assert.match(comments[0]?.body ?? '', `Landed on main in ${landed}`);
    }
    assert.is(r.github.milestones.get(7)?.state, 'closed');
    assert.match(result.stdout + result.stderr, 'Completed 2/2 (100%)');
    assert.match(result.stdout + result.stderr, 'milestone 7 closed');
    // Fetched once: labels and priority cached for prompts, relay and report.
    const state = readStateFile(r.repo);
    assert.equal(state.cache['1'].labels, ['P1']);
    assert.is(state.cache['1'].priority, 'P1');
    assert.is(state.cache['1'].sections.Description, 'Do Alpha.');
    // The relay the first wave left names the item's priority and labels.
    const relay = readFileSync(path.join(r.repo.stateDir, 'relay', 'wave-1.md'), 'utf8');
    assert.match(relay, '#### Item: #1 — Alpha\n- Status: COMPLETE\n- Triage: priority P1; labels: P1\n');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('stale plans: a plan item closed on GitHub, and an open issue of the milestone missing from the plan', async () => {
  const r = await rig(COMMITTING_AGENT, [{ number: 3, title: 'Gamma, groomed later' }]);
  try {
    const added = await run(r);
    assert.is(added.code, 2, output(added));
    assert.match(added.stderr, /open issue #3 \(Gamma, groomed later\) of milestone 7 is not in the plan/);
    assert.match(added.stderr, '/groom-milestone 7');
    const issue3 = r.github.issues.get(3);
    if (issue3) issue3.milestone = null;
    const issue2 = r.github.issues.get(2);
    if (issue2) issue2.state = 'closed';
    const closed = await run(r);
    assert.is(closed.code, 2, output(closed));
    assert.match(closed.stderr, /plan is stale: #2 is closed/);
    assert.not.ok(await git(r.repo.dir, 'branch', '--list', 'milestone/*'), 'nothing was started');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a PARTIAL item creates exactly one follow-up issue, also when the runner is killed right after GitHub created it', async () => {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(
    tools,
    `echo "$WM_ISSUE" > "item-$WM_ISSUE.txt"
commit "item $WM_ISSUE"
if [ "$WM_ISSUE" = 1 ]; then printf 'STATUS: PARTIAL\\nBRANCH: %s\\nTASKS_BLOCKED:\\n- the second half\\nNOTES: half done\\n' "$WM_BRANCH"; else report COMPLETE; fi`,
  );
  const r = await rig(agent.command);
  try {
    let killed = false;
    const first = startKillable('run', ['7', '--repo', r.repo.dir], { env: r.env });
    r.github.onIssueCreated = async () => {
      // The issue exists on GitHub; the runner dies before it hears so.
      killed = true;
      await first.kill();
      return 'drop';
    };
    await first.closed;
    assert.ok(killed, 'the runner was killed while creating the follow-up');
    r.github.onIssueCreated = null;
    const again = await run(r);
    const followUps = [...r.github.issues.values()].filter((i) => i.body.includes('work-milestone follow-up'));
    assert.is(followUps.length, 1, output(again));
    const followUp = followUps[0];
    const state = readStateFile(r.repo);
    assert.equal(state.items['1'].followUps, [followUp?.number]);
    assert.is(followUp?.milestone, 7);
    assert.equal(followUp?.labels, ['follow-up']);
    assert.match(followUp?.title ?? '', 'Finish #1: Alpha');
    assert.match(followUp?.body ?? '', state.items['1'].branch);
    assert.match(followUp?.body ?? '', '- the second half');
    assert.match(followUp?.body ?? '', '#1');
    assert.is(again.code, 0, output(again));
    // The follow-up is carried over: the milestone stays open.
    assert.match(
      again.stdout + again.stderr,
      `Completed 2/3 (66%); carried over: #${followUp?.number} Finish #1: Alpha`,
    );
    assert.is(r.github.milestones.get(7)?.state, 'open');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('a secondary rate limit (403) is waited out and the request retried; a bad token is exit 2 naming it', async () => {
  const r = await rig(COMMITTING_AGENT);
  try {
    const bad = await run(r, { GH_TOKEN: 'ghp_wrong' });
    assert.is(bad.code, 2, output(bad));
    assert.match(bad.stderr, /GitHub refused the token from GH_TOKEN \(401 Bad credentials\)/);
    r.github.received.length = 0;
    r.github.faults.push(SECONDARY_RATE_LIMIT);
    const validated = await runCli('step', ['validate', '7', '--repo', r.repo.dir], { env: r.env });
    assert.is(validated.code, 0, output(validated));
    assert.equal(
      r.github.received.slice(0, 2).map((q) => [q.operationId, q.status]),
      [
        ['issues/get', 403],
        ['issues/get', 200],
      ],
    );
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test.run();
