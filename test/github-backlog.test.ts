/**
 * The GitHub backlog against the loopback GitHub server (every request and answer checked against GitHub's OpenAPI
 * description): items read with their sections, labels and priority; a follow-up created once by its marker; a landed
 * item closed once with its sha; the milestone closed; rate limits and 5xx retried; a bad token, a missing scope and a
 * missing repository are exit 2 naming what is wrong.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backlog } from '../tasks/backlog/backlog.ts';
import { repoOfRemoteUrl } from '../tasks/backlog/github-urls.ts';
import { openBacklog } from '../tasks/backlog/open-backlog.ts';
import { exitCodeOf } from '../tasks/lib/errors.ts';
import { git, tempDir } from './support/fixture.ts';
import {
  BAD_GATEWAY,
  SECONDARY_RATE_LIMIT,
  primaryRateLimit,
  startGithubServer,
  type GithubServer,
} from './support/github-server.ts';

const TOKEN = 'ghp_loopback';

async function server(): Promise<GithubServer> {
  return startGithubServer({
    repo: 'acme/widgets',
    token: TOKEN,
    labels: ['status:open', 'status:in-progress', 'status:done'],
    milestones: [{ number: 7, title: 'Search' }],
    issues: [
      {
        number: 1,
        title: 'Tokenizer',
        labels: ['P0', 'area:search', 'status:open'],
        body: '## Description\n\nSplit words.\n\n## Acceptance Criteria\n\n- splits\n\n## Notes\n\nDepends on #2',
      },
      { number: 2, title: 'Ranking', labels: ['priority:P1'] },
      { number: 3, title: 'Elsewhere', milestone: null },
    ],
  });
}

function backlogOf(s: GithubServer, env: Record<string, string> = { GH_TOKEN: TOKEN }, repo = 'acme/widgets'): Backlog {
  return openBacklog({ kind: 'github', repo }, process.cwd(), {
    env: { GITHUB_API_URL: s.url, PATH: '', WM_GITHUB_WRITE_GAP_MS: '0', ...env },
  });
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a failure');
}

test('items are the issues of the milestone: sections, labels, priority, depends-on, status', async () => {
  const s = await server();
  try {
    const b = backlogOf(s);
    const items = await b.listItems(7);
    assert.equal(
      items.map((i) => i.issue),
      [1, 2],
    );
    const one = items[0];
    assert.is(one?.sections.Description, 'Split words.');
    assert.is(one?.sections['Acceptance Criteria'], '- splits');
    assert.equal(one?.labels, ['P0', 'area:search', 'status:open']);
    assert.is(one?.priority, 'P0');
    assert.is(items[1]?.priority, 'P1');
    assert.equal(one?.dependsOn, [2]);
    assert.is(one?.status, 'open');
    assert.is(one?.source, 'acme/widgets#1');
    assert.is((await b.readItem(3))?.milestone, null);
    assert.is(await b.readItem(99), undefined);
    assert.equal(s.problems, []);
  } finally {
    await s.close();
  }
});

test('createItem with a marker creates one issue in the milestone, however often it is asked', async () => {
  const s = await server();
  try {
    const b = backlogOf(s);
    const item = {
      title: 'Finish #1: Tokenizer',
      milestone: 7,
      labels: ['follow-up'],
      sections: { Description: 'what is left' },
      marker: 'work-milestone follow-up: milestone 7, abc',
    };
    const first = await b.createItem(item);
    const second = await b.createItem(item);
    assert.is(second.issue, first.issue);
    const created = [...s.issues.values()].filter((i) => i.body.includes('work-milestone follow-up'));
    assert.is(created.length, 1);
    assert.is(created[0]?.milestone, 7);
    assert.equal(created[0]?.labels, ['follow-up']);
    assert.match(
      created[0]?.body ?? '',
      /## Description\n\nwhat is left\n\n<!-- work-milestone follow-up: milestone 7, abc -->/,
    );
    assert.equal(s.problems, []);
  } finally {
    await s.close();
  }
});

test('closeItem comments the landed sha once, sets status:done, closes; closeMilestone closes it when nothing is open', async () => {
  const s = await server();
  try {
    const b = backlogOf(s);
    const sha = 'a'.repeat(40);
    await b.closeItem(1, sha);
    await b.closeItem(1, sha);
    assert.is(s.issues.get(1)?.state, 'closed');
    assert.equal(s.issues.get(1)?.labels, ['P0', 'area:search', 'status:done']);
    const comments = s.comments.filter((c) => c.issue === 1);
    assert.is(comments.length, 1);
    assert.match(comments[0]?.body ?? '', `Landed on main in ${sha}`);
    assert.is(await b.closeMilestone(7), false, '#2 is still open');
    assert.is(s.milestones.get(7)?.state, 'open');
    await b.closeItem(2, sha);
    assert.is(await b.closeMilestone(7), true);
    assert.is(s.milestones.get(7)?.state, 'closed');
    assert.equal(s.problems, []);
  } finally {
    await s.close();
  }
});

test('a secondary rate limit, a primary rate limit and a 502 are retried; the request then succeeds', async () => {
  const s = await server();
  try {
    s.faults.push(SECONDARY_RATE_LIMIT, primaryRateLimit(), BAD_GATEWAY);
    const item = await backlogOf(s).readItem(1);
    assert.is(item?.title, 'Tokenizer');
    assert.equal(
      s.received.map((r) => r.status),
      [403, 403, 502, 200],
    );
    assert.equal(s.problems, []);
  } finally {
    await s.close();
  }
});

test('a bad token, a refusal and a missing repository are exit 2 naming the token, the scope, the repository', async () => {
  const s = await server();
  try {
    const bad = await failure(backlogOf(s, { GH_TOKEN: 'wrong' }).listItems(7));
    assert.is(exitCodeOf(bad), 2);
    assert.match(bad.message, /token from GH_TOKEN \(401 Bad credentials\)/);
    const fromGithubToken = await failure(backlogOf(s, { GITHUB_TOKEN: 'wrong' }).readItem(1));
    assert.match(fromGithubToken.message, /GITHUB_TOKEN/);
    const none = await failure(backlogOf(s, {}).readItem(1));
    assert.is(exitCodeOf(none), 2);
    assert.match(none.message, /no GitHub token.*GH_TOKEN/);
    s.faults.push({
      status: 403,
      body: {
        message: 'Resource not accessible by personal access token',
        documentation_url: 'https://docs.github.com',
      },
    });
    const scope = await failure(backlogOf(s).createItem({ title: 'x', milestone: 7, sections: {} }));
    assert.is(exitCodeOf(scope), 2);
    assert.match(scope.message, /"repo" scope/);
    const missing = await failure(backlogOf(s, { GH_TOKEN: TOKEN }, 'acme/gone').listItems(7));
    assert.is(exitCodeOf(missing), 2);
    assert.match(missing.message, /404.*acme\/gone/);
    assert.equal(s.problems, []);
  } finally {
    await s.close();
  }
});

test("the token falls back to `gh auth token`; the repository to the one of origin's URL", async () => {
  const s = await server();
  const dir = tempDir('wm-gh-');
  try {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'gh'), `#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo ${TOKEN}\n`, { mode: 0o755 });
    const checkout = path.join(dir, 'repo');
    await git(dir, 'init', '-q', checkout);
    await git(checkout, 'remote', 'add', 'origin', 'git@github.com:acme/widgets.git');
    const env = { GITHUB_API_URL: s.url, PATH: `${bin}:${process.env.PATH ?? ''}`, WM_GITHUB_WRITE_GAP_MS: '0' };
    const b = openBacklog({ kind: 'github', repo: null }, checkout, { env });
    assert.equal(
      (await b.listItems(7)).map((i) => i.source),
      ['acme/widgets#1', 'acme/widgets#2'],
    );
    await git(checkout, 'remote', 'set-url', 'origin', path.join(dir, 'origin.git'));
    const local = await failure(openBacklog({ kind: 'github', repo: null }, checkout, { env }).listItems(7));
    assert.is(exitCodeOf(local), 2);
    assert.match(local.message, /names no repo and origin's URL .* is not a GitHub repository; add repo: owner\/name/);
    assert.equal(s.problems, []);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("origin's URL names the repository when the plan does not", () => {
  assert.is(repoOfRemoteUrl('git@github.com:acme/widgets.git'), 'acme/widgets');
  assert.is(repoOfRemoteUrl('https://github.com/acme/widgets'), 'acme/widgets');
  assert.is(repoOfRemoteUrl('https://ghe.example.com/acme/widgets.git/'), 'acme/widgets');
  assert.is(repoOfRemoteUrl('ssh://git@ghe.example.com:2222/acme/widgets.git'), 'acme/widgets');
  assert.is(repoOfRemoteUrl('/tmp/origin.git'), undefined);
});

test.run();
