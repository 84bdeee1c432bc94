/**
 * The loopback GitHub server's pull requests and check runs, through the product's Octokit client: a pull request
 * is opened once, its required check red refuses the merge (405) and leaves origin's main alone, green merges it with
 * a merge commit into the bare origin; every request and answer passes GitHub's OpenAPI description; a GraphQL
 * request outside GitHub's GraphQL schema is refused and recorded.
 */
import { performance } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createGithubClient } from '../tasks/backlog/github-client.ts';
import { git, makeRepo } from './support/fixture.ts';
import { startGithubServer } from './support/github-server.ts';

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as { status: number }).status;
  }
}

test('a pull request merges into origin once its required check is green, never before', async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: x}\n', items: [], origin: true });
  const origin = repo.origin ?? '';
  const github = await startGithubServer({
    repo: 'acme/widgets',
    token: 't',
    milestones: [],
    issues: [],
    origin,
    requiredChecks: ['ci'],
  });
  try {
    await git(repo.dir, 'switch', '-q', '-c', 'milestone/7-x');
    await git(repo.dir, 'commit', '-q', '--allow-empty', '-m', 'work');
    await git(repo.dir, 'push', '-q', 'origin', 'milestone/7-x');
    const head = await git(repo.dir, 'rev-parse', 'HEAD');
    const mainBefore = await git(origin, 'rev-parse', 'main');
    const client = createGithubClient('t', github.url, { WM_GITHUB_WRITE_GAP_MS: '0' });
    const pr = {
      owner: 'acme',
      repo: 'widgets',
      head: 'milestone/7-x',
      base: 'main',
      title: 'Milestone 7',
      body: 'report',
    };
    const { data: created } = await client.rest.pulls.create(pr);
    assert.is(created.head.sha, head);
    assert.is(await status(client.rest.pulls.create(pr)), 422, 'one pull request per branch');
    const { data: listed } = await client.rest.pulls.list({
      owner: 'acme',
      repo: 'widgets',
      head: 'acme:milestone/7-x',
    });
    assert.equal(
      listed.map((p) => p.number),
      [created.number],
    );
    github.checkRuns.push({ id: 1, sha: head, name: 'ci', status: 'completed', conclusion: 'failure' });
    const { data: checks } = await client.rest.checks.listForRef({
      owner: 'acme',
      repo: 'widgets',
      ref: 'milestone/7-x',
    });
    assert.equal(
      checks.check_runs.map((c) => [c.name, c.conclusion]),
      [['ci', 'failure']],
    );
    const merge = { owner: 'acme', repo: 'widgets', pull_number: created.number, merge_method: 'merge' as const };
    assert.is(await status(client.rest.pulls.merge(merge)), 405);
    assert.is(await git(origin, 'rev-parse', 'main'), mainBefore, 'red: nothing merged');
    github.checkRuns.push({ id: 2, sha: head, name: 'ci', status: 'completed', conclusion: 'success' });
    const { data: merged } = await client.rest.pulls.merge(merge);
    assert.is(await git(origin, 'rev-parse', 'main'), merged.sha);
    assert.is(await git(origin, 'rev-parse', `${merged.sha}^1`), mainBefore);
    assert.is(await git(origin, 'rev-parse', `${merged.sha}^2`), head);
    const { data: after } = await client.rest.pulls.get({
      owner: 'acme',
      repo: 'widgets',
      pull_number: created.number,
    });
    assert.is(after.merged, true);
    assert.is(after.state, 'closed');
    assert.equal(github.problems, []);
  } finally {
    await github.close();
    repo.cleanup();
  }
});

test("GraphQL: a request outside GitHub's schema is refused and recorded; a valid one is answered in its shape", async () => {
  const github = await startGithubServer({ repo: 'acme/widgets', token: 't', milestones: [], issues: [] });
  try {
    const client = createGithubClient('t', github.url);
    const wrong = await client
      .graphql('query { repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { mergedd } } }')
      .then(
        () => null,
        (e: Error) => e.message,
      );
    assert.match(wrong ?? '', 'Cannot query field "mergedd" on type "PullRequest"');
    assert.is(github.problems.length, 1);
    assert.match(github.problems[0] ?? '', 'graphql: Cannot query field "mergedd" on type "PullRequest"');
    github.problems.length = 0;
    const answer = await client.graphql<{ repository: { pullRequest: null } }>(
      'query($n: Int!) { repository(owner: "acme", name: "widgets") { pullRequest(number: $n) { id state } } }',
      { n: 1 },
    );
    assert.equal(answer, { repository: { pullRequest: null } });
    assert.equal(github.problems, []);
  } finally {
    await github.close();
  }
});

test('writes are paced a second apart unless WM_GITHUB_WRITE_GAP_MS=0 (only a lower bound is asserted)', async () => {
  const github = await startGithubServer({ repo: 'acme/widgets', token: 't', milestones: [], issues: [] });
  const query = 'query { repository(owner: "acme", name: "widgets") { id } }';
  try {
    // Octokit counts every GraphQL request as a write: the second one starts a second after the first.
    const paced = createGithubClient('t', github.url, {});
    const started = performance.now();
    await paced.graphql(query);
    await paced.graphql(query);
    assert.ok(performance.now() - started >= 990, 'two writes less than a second apart');
    const unpaced = createGithubClient('t', github.url, { WM_GITHUB_WRITE_GAP_MS: '0' });
    for (let i = 0; i < 3; i++) await unpaced.graphql(query);
    assert.is(github.received.filter((q) => q.operationId === 'graphql/repository').length, 5);
    assert.equal(github.problems, []);
  } finally {
    await github.close();
  }
});

test.run();
