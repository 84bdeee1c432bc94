/**
 * Landing through a pull request (`land: pull-request`) against the loopback GitHub server, git's origin a local bare
 * repository: a required check red, then green, lands once green and never before; a direct push a protected branch
 * refuses is exit 1 naming `land: pull-request` (and that setting lands it); a crash after the pull request merged
 * lands on the next run without a second pull request.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFlags } from '../tasks/cli/flags.ts';
import { watch } from './support/cli.ts';
import { git, gitOk, parentsOf, runCli, startCli, type CliResult } from './support/fixture.ts';
import { makeGithubRig, RUN_BOUND_MS, type GithubRig } from './support/github-rig.ts';
import { waitFor } from './support/wait.ts';

type Rig = GithubRig;

/** Alpha in wave 1, Beta in wave 2. */
const rig = (land: 'direct' | 'pull-request', requiredChecks: readonly string[] = []): Promise<Rig> =>
  makeGithubRig(['Alpha', 'Beta'], land, { requiredChecks });

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const start = (r: Rig, args: readonly string[] = []) =>
  watch(startCli('run', ['7', '--repo', r.repo.dir, ...args], { env: r.env }));
const originBranches = async (r: Rig) => (await git(r.origin, 'branch', '--list', 'milestone/*')).trim();
const merges = (r: Rig, from = 0) => r.github.received.slice(from).filter((q) => q.operationId === 'pulls/merge');

test('a required check red, then green: exit 3 naming the check and the pull request; lands once green, never before', async () => {
  const r = await rig('pull-request', ['ci']);
  try {
    const before = await git(r.origin, 'rev-parse', 'main');
    const first = start(r);
    // The runner waits: GitHub refuses the merge while "ci" has not reported.
    await waitFor('the runner waiting for "ci"', () => merges(r).length > 0 || first.ended(), RUN_BOUND_MS);
    assert.not.ok(first.ended(), `${first.stdout()}\n${first.stderr()}`);
    assert.is(r.github.pulls.length, 1);
    const pull = r.github.pulls[0];
    const head = await git(r.origin, 'rev-parse', pull?.head ?? '');
    assert.match(pull?.body ?? '', 'Milestone 7');
    r.github.checkRuns.push({ id: 1, sha: head, name: 'ci', status: 'completed', conclusion: 'failure' });
    const red = await first.done;
    assert.is(red.code, 3, output(red));
    // Each wave's merges went to origin before landing began.
    assert.is(red.stdout.split('pushed milestone/7-search to origin').length - 1, 2, output(red));
    assert.match(red.stderr, 'required check "ci" failed');
    assert.match(red.stderr, `https://github.com/acme/widgets/pull/${pull?.number}`);
    assert.is(await git(r.origin, 'rev-parse', 'main'), before, 'nothing landed while red');
    assert.is(pull?.state, 'open');
    assert.ok(merges(r).every((q) => q.status === 405));

    // The check runs again: `run` waits for it; the test turns it green only once it saw the runner polling.
    r.github.checkRuns.push({ id: 2, sha: head, name: 'ci', status: 'in_progress', conclusion: null });
    const seen = r.github.received.length;
    const second = start(r);
    await waitFor(
      'the runner polling the running check',
      () => r.github.received.slice(seen).some((q) => q.operationId === 'checks/list-for-ref') || second.ended(),
      RUN_BOUND_MS,
    );
    assert.not.ok(second.ended(), `${second.stdout()}\n${second.stderr()}`);
    assert.equal(merges(r, seen), [], 'no merge tried while the check runs');
    const flipped = r.github.received.length;
    r.github.checkRuns.push({ id: 3, sha: head, name: 'ci', status: 'completed', conclusion: 'success' });
    const green = await second.done;
    assert.is(green.code, 0, output(green));
    assert.equal(
      merges(r, seen).map((q) => q.status),
      [200],
    );
    assert.ok(r.github.received.indexOf(merges(r, seen)[0] as never) >= flipped, 'merged only after the flip');
    assert.is(r.github.pulls.length, 1, 'the open pull request was reused');
    assert.ok(pull?.merged);
    const landed = await git(r.origin, 'rev-parse', 'main');
    assert.is(landed, pull?.mergeCommit);
    assert.equal(await parentsOf(r.origin, landed), [before, head]);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), landed, 'local main fast-forwarded to origin');
    assert.is(await git(r.repo.dir, 'show', `${landed}:item-2.txt`), '2');
    assert.is(await originBranches(r), '', 'the integration branch is deleted on origin');
    assert.is(r.github.issues.get(1)?.state, 'closed');
    assert.match(r.github.comments.find((c) => c.issue === 1)?.body ?? '', `Landed on main in ${landed}`);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test("origin's main moved while the checks ran: brought in and gated again; the older head is never merged", async () => {
  const r = await rig('pull-request', ['ci']);
  try {
    const run = start(r);
    await waitFor('the runner waiting for "ci"', () => merges(r).length > 0 || run.ended(), RUN_BOUND_MS);
    assert.not.ok(run.ended(), `${run.stdout()}\n${run.stderr()}`);
    const branch = r.github.pulls[0]?.head ?? '';
    const oldHead = await git(r.origin, 'rev-parse', branch);
    // While the runner waits for its next list of checks: a teammate's push to main, and "ci" green on the head
    // that does not contain it.
    const mate = path.join(r.repo.root, 'mate');
    let teammate = '';
    r.github.beforeAnswer = async (operationId) => {
      if (operationId !== 'checks/list-for-ref' || teammate) return;
      await git(r.repo.root, 'clone', '-q', r.origin, mate);
      writeFileSync(path.join(mate, 'teammate.txt'), 'hi\n');
      await git(mate, 'add', 'teammate.txt');
      await git(mate, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '-qm', 'teammate');
      await git(mate, 'push', '-q', 'origin', 'main');
      teammate = await git(mate, 'rev-parse', 'HEAD');
      r.github.checkRuns.push({ id: 1, sha: oldHead, name: 'ci', status: 'completed', conclusion: 'success' });
    };
    const newHead = await waitFor(
      'the head with the teammate commit pushed',
      async () => {
        if (run.ended()) return 'ended';
        const head = await git(r.origin, 'rev-parse', branch);
        return head !== oldHead && head;
      },
      RUN_BOUND_MS,
    );
    assert.not.ok(run.ended(), `${run.stdout()}\n${run.stderr()}`);
    r.github.beforeAnswer = null;
    assert.ok(await gitOk(r.origin, 'merge-base', '--is-ancestor', teammate, newHead));
    assert.ok(
      merges(r).every((q) => q.status === 405),
      'the older head was not merged',
    );
    r.github.checkRuns.push({ id: 2, sha: newHead, name: 'ci', status: 'completed', conclusion: 'success' });
    const done = await run.done;
    assert.is(done.code, 0, output(done));
    assert.is(r.github.pulls.length, 1);
    const landed = await git(r.origin, 'rev-parse', 'main');
    assert.equal(await parentsOf(r.origin, landed), [teammate, newHead]);
    assert.is(
      await git(r.origin, 'rev-parse', `${landed}^{tree}`),
      await git(r.origin, 'rev-parse', `${newHead}^{tree}`),
    );
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), landed);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a direct push refused by a protected branch: exit 1 naming land: pull-request; with it, the milestone lands', async () => {
  const r = await rig('direct');
  try {
    const hook = path.join(r.origin, 'hooks', 'pre-receive');
    writeFileSync(
      hook,
      `#!/bin/sh
while read old new ref; do
  if [ "$ref" = refs/heads/main ]; then
    echo "error: GH006: Protected branch update failed for refs/heads/main." >&2
    echo "error: At least 1 approving review is required by reviewers with write access." >&2
    exit 1
  fi
done
`,
    );
    chmodSync(hook, 0o755);
    const before = await git(r.origin, 'rev-parse', 'main');
    const refused = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.is(refused.code, 1, output(refused));
    assert.match(refused.stderr, 'GH006: Protected branch update failed');
    assert.match(refused.stderr, 'land: pull-request');
    assert.is(await git(r.origin, 'rev-parse', 'main'), before);
    assert.equal(r.github.pulls, []);

    const local = await git(r.repo.dir, 'rev-parse', 'main');
    const landed = await runCli('run', ['7', '--repo', r.repo.dir, '--land', 'pull-request'], { env: r.env });
    assert.is(landed.code, 0, output(landed));
    assert.is(r.github.pulls.length, 1);
    const merged = await git(r.origin, 'rev-parse', 'main');
    assert.is(merged, r.github.pulls[0]?.mergeCommit);
    assert.equal(await parentsOf(r.origin, merged), [before, local], 'the local landing went through the PR');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), merged);
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('a crash right after the pull request merged: the next run lands without a second pull request', async () => {
  const r = await rig('pull-request');
  try {
    let killed = false;
    const first = start(r);
    r.github.onPullMerged = async () => {
      // Merged on GitHub; the runner dies before it hears so.
      first.child.kill('SIGKILL');
      killed = true;
      await first.done;
      return 'drop';
    };
    await first.done;
    assert.ok(killed, 'the runner was killed while merging');
    r.github.onPullMerged = null;
    const merged = await git(r.origin, 'rev-parse', 'main');
    assert.is(merged, r.github.pulls[0]?.mergeCommit);
    const again = await runCli('run', ['7', '--repo', r.repo.dir], { env: r.env });
    assert.is(again.code, 0, output(again));
    assert.is(r.github.pulls.length, 1, 'no second pull request');
    assert.is(merges(r).length, 1, 'merged once');
    assert.is(await git(r.origin, 'rev-parse', 'main'), merged);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), merged);
    assert.is(await originBranches(r), '');
    assert.is(r.github.issues.get(2)?.state, 'closed');
    assert.equal(r.github.problems, []);
  } finally {
    await r.cleanup();
  }
});

test('--land takes direct or pull-request, overriding the plan; anything else is bad input', () => {
  assert.is(parseFlags(['7', '--land', 'pull-request']).options.land, 'pull-request');
  assert.is(parseFlags(['7']).options.land, null);
  assert.throws(() => parseFlags(['7', '--land', 'sideways']), /--land must be one of direct, pull-request/);
});

test.run();
