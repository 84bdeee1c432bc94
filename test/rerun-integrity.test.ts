/**
 * Issue 9, "main is never broken", through the real CLI: `run` again after red gates starts a new fix agent (its
 * files are its own, never an earlier process's), `complete` refuses while items are unfinished, `--dry-run` of a
 * fresh milestone shows nothing done and changes nothing, and a backlog status commit that failed is made by the
 * next run.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readExitCode, runFilesOf, startDetached } from '../tasks/executors/local/process.ts';
import { DEFAULT_OPTIONS } from '../tasks/engine/context.ts';
import { createContext } from '../tasks/engine/create-context.ts';
import { BadInputError } from '../tasks/lib/errors.ts';
import { STEPS } from '../tasks/steps/index.ts';
import { ITEM_AGENT, ITEMS, makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import type { PlanKeys } from './support/wave-rig.ts';
import {
  cliEnv,
  git,
  readEvents,
  readStateFile,
  refExists,
  runCli,
  runSteps,
  showFile,
  snapshotRepo,
  tempDir,
} from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';
import { linesOf, waitFor } from './support/wait.ts';

type Rig = AgentRig;

/** A serial one-wave milestone 7 of two items, with `gates` as its quality-gates block and `defaults` added. */
function rig(opts: { body: string; gates?: PlanKeys; defaults?: PlanKeys }): Promise<Rig> {
  return makeAgentRig({ title: 'Rerun integrity', items: ITEMS, ...opts });
}

// `run` in this process: what is tested is what a run does again, not the script's process (cli.test.ts,
// full-run.test.ts run the script); each process start costs a second or more.
const run = (r: Rig, ...flags: string[]) => runInProcess('run', ['7', '--repo', r.repo.dir, ...flags]);
const INTEGRATION = 'refs/heads/milestone/7-rerun-integrity';
const integrationDir = (r: Rig) => path.join(r.repo.dir, 'worktrees', 'milestone-7');

test("an exit file names the process that wrote it: a caller that knows the pid never reads an earlier process's", async () => {
  const dir = tempDir('wm-run-files-');
  try {
    const files = runFilesOf(dir, 'fix-1');
    // Left by an earlier process of the same name (an older wrapper wrote the code alone).
    writeFileSync(files.exit, '7\n');
    const release = path.join(dir, 'release');
    const spec = { file: 'sh', args: ['-c', `while [ ! -e '${release}' ]; do sleep 0.05; done; exit 3`], env: {} };
    const proc = await startDetached(spec, dir, files, cliEnv());
    // Held until released: whatever the exit file says now is not this process's.
    assert.is(readExitCode(files, proc.pid), null);
    assert.is(readExitCode(files), 7, 'one argument: whatever code the file holds');
    writeFileSync(release, '');
    await waitFor('the wrapper to write its exit file', () => readFileSync(files.exit, 'utf8') !== '7\n');
    assert.is(readFileSync(files.exit, 'utf8'), `3 ${proc.pid}\n`);
    assert.is(readExitCode(files, proc.pid), 3);
    assert.is(readExitCode(files, proc.pid + 1), null);
    assert.is(readExitCode(files), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("red gates, then run again: a new fix agent process runs (not the first one's exit file) and the milestone lands", async () => {
  // One item: a milestone of one never ejects it (at most half of its items go), so the fix agents get the whole
  // milestone. The gate is green on main and red once a.txt is merged, until the fix adds fixed.txt.
  const r = await makeAgentRig({
    title: 'Rerun integrity',
    items: ITEMS.slice(0, 1),
    gates: { 'post-merge': [{ name: 'needs-fix', run: 'test ! -f a.txt || test -f fixed.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `${ITEM_AGENT}
if [ "$WM_ROLE" = fix ]; then
  echo "$$" >> "$tools/fix-runs"
  if [ "$(wc -l < "$tools/fix-runs")" -eq 2 ]; then echo ok > fixed.txt; commit "fix the gate"; report COMPLETE fixed; else report COMPLETE "not yet"; fi
fi`,
  });
  const runs = path.join(r.tools, 'fix-runs');
  try {
    const first = await run(r);
    assert.is(first.code, 1, show(first));
    assert.match(first.stderr, /gate "needs-fix" \(post-merge\) still fails/);
    assert.is(linesOf(runs).length, 1, 'one fix agent in the first run');
    assert.not.ok(
      await git(r.repo.dir, 'ls-tree', '--name-only', 'main').then((t) => t.split('\n').includes('a.txt')),
      'main got the red milestone',
    );

    const second = await run(r);
    assert.is(second.code, 0, show(second));
    const pids = linesOf(runs);
    assert.is(pids.length, 2, `a new fix agent ran in the second run: ${pids.join(' ')}`);
    assert.is.not(pids[0], pids[1]);
    assert.equal(
      r.agent
        .calls()
        .filter((c) => c.role === 'fix')
        .map((c) => c.cwd),
      [integrationDir(r), integrationDir(r)],
    );
    const files = (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    assert.ok(
      ['a.txt', 'fixed.txt'].every((f) => files.includes(f)),
      files.join(' '),
    );
    // Each fix session has its own files: two prompts, two exit files, each naming its own process.
    const gatesDir = path.join(r.repo.stateDir, 'gates');
    const exits = readdirSync(gatesDir)
      .filter((f) => /^fix-.*\.exit$/.test(f))
      .sort();
    assert.is(exits.length, 2, readdirSync(gatesDir).join(' '));
    assert.equal(
      exits.map((f) => readFileSync(path.join(gatesDir, f), 'utf8').trim().split(' ')[0]),
      ['0', '0'],
    );
    assert.is.not(
      readFileSync(path.join(gatesDir, exits[0] as string), 'utf8'),
      readFileSync(path.join(gatesDir, exits[1] as string), 'utf8'),
    );
  } finally {
    r.cleanup();
  }
});

/** Refused without a trace: the integration branch and worktree are there, the repository as it was, no report. */
async function assertNothingCompleted(r: Rig, before: string): Promise<void> {
  assert.ok(await refExists(r.repo.dir, INTEGRATION), 'integration branch deleted');
  assert.ok(existsSync(integrationDir(r)), 'integration worktree removed');
  assert.ok((await git(r.repo.dir, 'worktree', 'list', '--porcelain')).includes(integrationDir(r)));
  assert.is(await snapshotRepo(r.repo.dir), before);
  assert.not.ok(existsSync(path.join(r.repo.stateDir, 'report.md')));
}

test('step complete with pending items refuses (exit 2, naming what is missing) and keeps the integration branch and worktree', async () => {
  const r = await rig({ body: ITEM_AGENT });
  try {
    const prior = await runSteps(r.repo, [['validate'], ['prepare'], ['branch'], ['fetch']]);
    assert.ok(
      prior.every((p) => p.code === 0),
      prior.map(show).join('\n'),
    );
    const before = await snapshotRepo(r.repo.dir);
    const result = await runCli('step', ['complete', '7', '--repo', r.repo.dir]);
    assert.is(result.code, 2, show(result));
    // Refused by complete itself (the items and the command that continues), or earlier by its prerequisite land.
    const namesItems =
      /#1 pending/.test(result.stderr) &&
      /#2 pending/.test(result.stderr) &&
      result.stderr.includes('npx zx scripts/run.mts 7');
    const namesLand = /step complete needs land, which is not done .*npx zx scripts\/step.mts land 7/.test(
      result.stderr,
    );
    assert.ok(namesItems || namesLand, show(result));
    await assertNothingCompleted(r, before);

    // complete's own check, whatever its prerequisites say: the step run directly refuses before touching anything.
    const ctx = await createContext({
      milestone: '7',
      cwd: r.repo.dir,
      repo: r.repo.dir,
      plan: null,
      options: DEFAULT_OPTIONS,
      signal: new AbortController().signal,
      env: cliEnv(),
      confirm: () => Promise.resolve(false),
    });
    const refused = await STEPS.complete.run(ctx, {}, { output: () => undefined }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.instance(refused, BadInputError, String(refused));
    assert.is((refused as BadInputError).exitCode, 2);
    assert.is(
      (refused as Error).message,
      'milestone 7 is not finished (#1 pending, #2 pending); run `npx zx scripts/run.mts 7` to finish it',
    );
    await assertNothingCompleted(r, before);
    assert.is(readStateFile(r.repo).complete, null);
  } finally {
    r.cleanup();
  }
});

test('run --dry-run on a fresh milestone: no step is done, and nothing in the repository changes; half-way, only what ran is done', async () => {
  const r = await rig({ body: ITEM_AGENT, gates: { 'post-merge': ['true'] } });
  try {
    const before = await snapshotRepo(r.repo.dir);
    const result = await run(r, '--dry-run');
    assert.is(result.code, 0, show(result));
    const lines = result.stdout.split('\n').filter(Boolean);
    const ids = [
      'validate',
      'prepare',
      'branch',
      'fetch',
      'worktrees@1#1',
      'spawn@1#1',
      'worktrees@1#2',
      'spawn@1#2',
      'wait@1',
      'merge@1',
      'relay@1',
      'gates',
      'land',
      'complete',
    ];
    assert.equal(
      lines.map((l) => l.split(':')[0]),
      ids,
      result.stdout,
    );
    const done = lines.filter((l) => /^[^:]+: done/.test(l));
    assert.equal(done, [], `steps shown as done on a fresh milestone:\n${done.join('\n')}`);
    assert.is(await snapshotRepo(r.repo.dir), before);
    assert.not.ok(existsSync(path.join(r.repo.dir, 'worktrees')));
    assert.not.ok(existsSync(path.join(r.repo.stateDir, 'state.json')), 'a dry run wrote state');

    // Half-way (the integration branch made, nothing run on it): only what was done is done.
    const prior = await runSteps(r.repo, [['validate'], ['prepare'], ['branch'], ['fetch']]);
    assert.ok(
      prior.every((p) => p.code === 0),
      prior.map(show).join('\n'),
    );
    const middle = await snapshotRepo(r.repo.dir);
    const again = await run(r, '--dry-run');
    assert.is(again.code, 0, show(again));
    const doneNow = again.stdout
      .split('\n')
      .filter((l) => /^[^:]+: done/.test(l))
      .map((l) => l.split(':')[0]);
    assert.equal(doneNow, ['validate', 'prepare', 'branch', 'fetch'], again.stdout);
    assert.is(await snapshotRepo(r.repo.dir), middle);
  } finally {
    r.cleanup();
  }
});

test('the backlog status commit fails once (a folder where git writes the message), then run again: main says status: done for every landed item', async () => {
  const r = await rig({
    // The gate runs in the integration worktree: its first run puts a folder where `git commit` writes its message, so
    // land cannot commit. (A left index.lock would not do: the runner removes stale locks before landing.)
    gates:
      'post-merge: [{name: block-once, run: "test -f \\"$WM_TOOLS/blocked\\" || { touch \\"$WM_TOOLS/blocked\\"; m=\\"$(git rev-parse --git-dir)/COMMIT_EDITMSG\\"; rm -f \\"$m\\"; mkdir \\"$m\\"; }"}]',
    body: ITEM_AGENT,
  });
  const env = { WM_TOOLS: r.tools };
  try {
    const first = await runCli('run', ['7', '--repo', r.repo.dir], { env });
    assert.is(first.code, 1, show(first));
    assert.match(first.stderr, /git commit .*-- plan\/backlog\/1.md plan\/backlog\/2.md failed/, show(first));
    const block = path.join(await git(integrationDir(r), 'rev-parse', '--absolute-git-dir'), 'COMMIT_EDITMSG');
    assert.ok(statSync(block).isDirectory(), 'the gate put a folder there');
    for (const { issue } of ITEMS)
      assert.match(await showFile(r.repo.dir, 'main', `plan/backlog/${issue}.md`), /^status: open$/m);
    rmSync(block, { recursive: true });

    const second = await runCli('run', ['7', '--repo', r.repo.dir], { env });
    assert.is(second.code, 0, show(second));
    const files = (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    assert.ok(files.includes('a.txt') && files.includes('b.txt'), files.join(' '));
    for (const { issue } of ITEMS)
      assert.match(
        await showFile(r.repo.dir, 'main', `plan/backlog/${issue}.md`),
        /^status: done$/m,
        `#${issue} on main`,
      );
  } finally {
    r.cleanup();
  }
});

test('a gate that leaves index.lock in the integration worktree: removed before landing, with a notice; lands', async () => {
  const r = await rig({
    gates: 'post-merge: [{name: leave-lock, run: "touch \\"$(git rev-parse --git-dir)/index.lock\\""}]',
    body: ITEM_AGENT,
  });
  try {
    const run = await runCli('run', ['7', '--repo', r.repo.dir]);
    assert.is(run.code, 0, show(run));
    for (const { issue } of ITEMS)
      assert.match(await showFile(r.repo.dir, 'main', `plan/backlog/${issue}.md`), /^status: done$/m);
    const notices = readEvents(r.repo).filter((e) => e.type === 'notice' && /index\.lock/.test(e.message));
    assert.is(notices.length, 1, JSON.stringify(notices));
  } finally {
    r.cleanup();
  }
});

test.run();
