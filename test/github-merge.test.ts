/**
 * Landing through a pull request when GitHub merges it itself, against the loopback GitHub server (REST and GraphQL,
 * each request checked against GitHub's published descriptions): main that requires a merge queue (read from its
 * rules, or learnt from the 405 of the REST merge), a repository with auto-merge, a pull request taken out of the
 * queue, a run killed right after enqueuing, required legacy commit statuses, and a 403 naming the permission the
 * refused request needs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { watch } from './support/cli.ts';
import { git, parentsOf, startCli, type CliResult } from './support/fixture.ts';
import type { GithubSeed } from './support/github-server.ts';
import { makeGithubRig, RUN_BOUND_MS, type GithubRig } from './support/github-rig.ts';
import { runInProcess } from './support/cli.ts';
import { waitFor } from './support/wait.ts';

type Rig = GithubRig;

type SeedOptions = Pick<
  GithubSeed,
  'requiredChecks' | 'mergeQueue' | 'allowAutoMerge' | 'hideRules' | 'showRequiredChecks'
>;

/** One issue, Alpha, landed through a pull request. */
const rig = (options: SeedOptions): Promise<Rig> => makeGithubRig(['Alpha'], 'pull-request', options);

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const run = (r: Rig) => runInProcess('run', ['7', '--repo', r.repo.dir], { env: r.env });
const asked = (r: Rig, field: string, from = 0) =>
  r.github.received.slice(from).filter((q) => q.operationId === `graphql/${field}`);
const restMerges = (r: Rig) => r.github.received.filter((q) => q.operationId === 'pulls/merge');
/** Resolves when `p` settled, for waitFor to give up on a run that ended early. */
const settled = <T>(p: Promise<T>) => {
  const box = { done: false };
  void p.finally(() => (box.done = true));
  return box;
};
const headOf = async (r: Rig) => git(r.origin, 'rev-parse', r.github.pulls[0]?.head ?? '');

test('main requires a merge queue: the pull request is enqueued (never merged through REST) and lands when its check passes', async () => {
  const r = await rig({ mergeQueue: true, requiredChecks: ['ci'] });
  try {
    const before = await git(r.origin, 'rev-parse', 'main');
    const running = run(r);
    const ended = settled(running);
    await waitFor(
      'the pull request enqueued',
      () => asked(r, 'enqueuePullRequest').length > 0 || ended.done,
      RUN_BOUND_MS,
    );
    const enqueued = r.github.received.length;
    await waitFor(
      'the runner polling the queue',
      () => asked(r, 'repository', enqueued).length > 0 || ended.done,
      RUN_BOUND_MS,
    );
    assert.not.ok(ended.done, 'the run waits for the queue');
    assert.ok(r.github.pulls[0]?.queued);
    const head = await headOf(r);
    r.github.checkRuns.push({ id: 1, sha: head, name: 'ci', status: 'completed', conclusion: 'success' });
    const done = await running;
    assert.is(done.code, 0, output(done));
    assert.equal(restMerges(r), [], 'the REST merge is never tried when the rules say merge queue');
    assert.is(asked(r, 'enqueuePullRequest').length, 1);
    const landed = await git(r.origin, 'rev-parse', 'main');
    assert.is(landed, r.github.pulls[0]?.mergeCommit);
    assert.equal(await parentsOf(r.origin, landed), [before, head]);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), landed, 'local main fast-forwarded to origin');
    assert.is(r.github.issues.get(1)?.state, 'closed');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a run killed right after enqueuing: the next run waits for the queue and does not enqueue twice (queue learnt from the 405)', async () => {
  const r = await rig({ mergeQueue: true, hideRules: true, requiredChecks: ['ci'] });
  try {
    const first = watch(startCli('run', ['7', '--repo', r.repo.dir], { env: r.env }));
    r.github.onMutation = async (field) => {
      if (field !== 'enqueuePullRequest') return 'answer';
      first.child.kill('SIGKILL');
      await first.done;
      return 'drop';
    };
    const killed = await first.done;
    assert.is(killed.signal, 'SIGKILL', output(killed));
    r.github.onMutation = null;
    assert.ok(r.github.pulls[0]?.queued, 'GitHub queued it before the runner died');
    assert.ok(
      restMerges(r).some((q) => q.status === 405),
      'the REST merge was refused: the queue shows only there',
    );
    const seen = r.github.received.length;
    const again = run(r);
    const ended = settled(again);
    await waitFor(
      'the runner polling the queue',
      () => asked(r, 'repository', seen).length > 1 || ended.done,
      RUN_BOUND_MS,
    );
    assert.not.ok(ended.done);
    r.github.checkRuns.push({ id: 1, sha: await headOf(r), name: 'ci', status: 'completed', conclusion: 'success' });
    const done = await again;
    assert.is(done.code, 0, output(done));
    assert.is(asked(r, 'enqueuePullRequest').length, 1, 'enqueued once');
    assert.is(r.github.pulls.length, 1);
    assert.is(await git(r.origin, 'rev-parse', 'main'), r.github.pulls[0]?.mergeCommit);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test("a pull request taken out of the queue: exit 3 with GitHub's reason and the URL; run again queues it again and lands", async () => {
  const r = await rig({ mergeQueue: true, requiredChecks: ['ci'] });
  try {
    const running = run(r);
    const ended = settled(running);
    await waitFor(
      'the pull request enqueued',
      () => asked(r, 'enqueuePullRequest').length > 0 || ended.done,
      RUN_BOUND_MS,
    );
    const head = await headOf(r);
    r.github.checkRuns.push({ id: 1, sha: head, name: 'ci', status: 'completed', conclusion: 'failure' });
    const out = await running;
    assert.is(out.code, 3, output(out));
    assert.match(out.stderr, 'out of the merge queue (Required status check "ci" is failing in the merge queue)');
    assert.match(out.stderr, `https://github.com/acme/widgets/pull/${r.github.pulls[0]?.number}`);
    assert.is(r.github.pulls[0]?.state, 'open');
    r.github.checkRuns.push({ id: 2, sha: head, name: 'ci', status: 'completed', conclusion: 'success' });
    const again = await run(r);
    assert.is(again.code, 0, output(again));
    assert.is(asked(r, 'enqueuePullRequest').length, 2, 'queued again');
    assert.ok(r.github.pulls[0]?.merged);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('auto-merge: enabled while the check is pending, GitHub merges when it turns green', async () => {
  const r = await rig({ allowAutoMerge: true, requiredChecks: ['ci'] });
  try {
    const before = await git(r.origin, 'rev-parse', 'main');
    const running = run(r);
    const ended = settled(running);
    await waitFor(
      'auto-merge enabled',
      () => asked(r, 'enablePullRequestAutoMerge').length > 0 || ended.done,
      RUN_BOUND_MS,
    );
    const enabled = r.github.received.length;
    await waitFor('the runner polling', () => asked(r, 'repository', enabled).length > 0 || ended.done, RUN_BOUND_MS);
    assert.not.ok(ended.done);
    assert.ok(r.github.pulls[0]?.autoMerge);
    assert.not.ok(r.github.pulls[0]?.merged, 'not merged while the check is pending');
    const head = await headOf(r);
    r.github.checkRuns.push({ id: 1, sha: head, name: 'ci', status: 'completed', conclusion: 'success' });
    const done = await running;
    assert.is(done.code, 0, output(done));
    assert.ok(
      restMerges(r).every((q) => q.status === 405),
      'GitHub merged it, not a REST merge',
    );
    const landed = await git(r.origin, 'rev-parse', 'main');
    assert.is(landed, r.github.pulls[0]?.mergeCommit);
    assert.equal(await parentsOf(r.origin, landed), [before, head]);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a required legacy commit status red, then green: exit 3 naming it; run again lands once it is green', async () => {
  const r = await rig({ requiredChecks: ['ci/legacy'], showRequiredChecks: true });
  try {
    const running = run(r);
    const ended = settled(running);
    await waitFor(
      'the runner reading the statuses',
      () => r.github.received.some((q) => q.operationId === 'repos/get-combined-status-for-ref') || ended.done,
      RUN_BOUND_MS,
    );
    assert.not.ok(ended.done);
    assert.equal(restMerges(r), [], 'no merge tried while a required status is missing');
    const head = await headOf(r);
    r.github.statuses.push({ id: 1, sha: head, context: 'ci/legacy', state: 'pending' });
    r.github.statuses.push({ id: 2, sha: head, context: 'ci/legacy', state: 'failure' });
    const red = await running;
    assert.is(red.code, 3, output(red));
    assert.match(red.stderr, 'required check "ci/legacy" failed (failure)');
    assert.equal(restMerges(r), []);
    r.github.statuses.push({ id: 3, sha: head, context: 'ci/legacy', state: 'success' });
    const green = await run(r);
    assert.is(green.code, 0, output(green));
    assert.equal(
      restMerges(r).map((q) => q.status),
      [200],
    );
    assert.is(await git(r.origin, 'rev-parse', 'main'), r.github.pulls[0]?.mergeCommit);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a 403 on opening the pull request names the pull requests permission; nothing is opened', async () => {
  const r = await rig({});
  try {
    r.github.refusals.set('pulls/create', {
      status: 403,
      body: {
        message: 'Resource not accessible by personal access token',
        documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request',
        status: '403',
      },
    });
    const out = await run(r);
    assert.is(out.code, 2, output(out));
    assert.match(out.stderr, 'Pull requests read and write');
    assert.not.match(out.stderr, 'Issues read and write');
    assert.equal(r.github.pulls, []);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('run --dry-run with land: pull-request says what landing would do on GitHub and writes nothing', async () => {
  const r = await rig({ mergeQueue: true, requiredChecks: ['ci'], showRequiredChecks: true });
  try {
    const refs = await git(r.origin, 'for-each-ref');
    const out = await runInProcess('run', ['7', '--repo', r.repo.dir, '--dry-run'], { env: r.env });
    assert.is(out.code, 0, output(out));
    const line = out.stdout.split('\n').find((l) => l.startsWith('land: todo')) ?? '';
    assert.match(line, 'land: pull-request would push milestone/7-search to origin (never forced)');
    assert.match(line, 'open a pull request from milestone/7-search into main');
    assert.match(
      line,
      "add it to main's merge queue and wait until GitHub merged it (the queue runs the required checks (ci))",
    );
    assert.ok(r.github.received.length > 0, 'GitHub was read');
    assert.equal(
      r.github.received.filter((q) => q.method !== 'GET'),
      [],
      'only reads',
    );
    assert.equal(r.github.pulls, []);
    assert.is(await git(r.origin, 'for-each-ref'), refs, "origin's refs unchanged");
    assert.equal(r.github.problems, []);

    const plain = await rig({ allowAutoMerge: true });
    try {
      const text = await runInProcess('run', ['7', '--repo', plain.repo.dir, '--dry-run'], { env: plain.env });
      assert.match(
        text.stdout,
        'wait for the checks of its head, then merge it with a merge commit (or enable auto-merge',
      );
      assert.equal(
        plain.github.received.filter((q) => q.method !== 'GET'),
        [],
      );
    } finally {
      await plain.cleanup();
    }
  } finally {
    await r.cleanup();
  }
});

test.run();
