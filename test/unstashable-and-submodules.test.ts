/**
 * Checkouts git stash cannot clean, and submodules: a checkout dirty only by a submodule at another commit (which git
 * stash cannot hold), or by line endings git changes on every checkout, is refused before any agent, without taking
 * someone else's stash for the run's own; an item that moves the submodule to a commit only its worktree holds fails
 * (main would point at a commit nobody has).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ITEM_AGENT, ITEMS, makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { runInProcess, show } from './support/cli.ts';
import { emptyRepo, git, readStateFile } from './support/fixture.ts';

/** Local submodules are cloned over the file protocol, which git allows only when asked to. */
const FILE_OK = ['-c', 'protocol.file.allow=always'];

/** A rig whose main has the submodule `sub` (a repository of one commit holding lib.txt). */
async function rigWithSubmodule(title: string, body = ITEM_AGENT): Promise<AgentRig & { sub: string }> {
  const sub = await emptyRepo('wm-sub-');
  writeFileSync(path.join(sub, 'lib.txt'), 'lib\n');
  await git(sub, 'add', '-A');
  await git(sub, 'commit', '-qm', 'lib');
  const r = await makeAgentRig({ title, items: ITEMS, body });
  await git(r.repo.dir, ...FILE_OK, 'submodule', 'add', '-q', sub, 'sub');
  await git(r.repo.dir, 'commit', '-qm', 'add the submodule');
  return { ...r, sub };
}

test("a checkout dirty only by a submodule at another commit: refused (exit 2); the user's own stash is left alone", async () => {
  const r = await rigWithSubmodule('Submodule moved');
  try {
    // An old stash of the user's, then the submodule moved to a new commit of its own.
    writeFileSync(path.join(r.repo.dir, 'README.md'), 'my old work\n');
    await git(r.repo.dir, 'stash', 'push', '-q', '-m', 'my old work');
    const old = await git(r.repo.dir, 'rev-parse', 'refs/stash');
    await git(path.join(r.repo.dir, 'sub'), 'commit', '-q', '--allow-empty', '-m', 'moved');
    assert.match(await git(r.repo.dir, 'status', '--porcelain'), /^ ?M sub$/m);
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 2, show(result));
    assert.match(result.stderr, /^git stash could not save what makes the working tree dirty \(sub\)/m);
    assert.is(await git(r.repo.dir, 'rev-parse', 'refs/stash'), old, 'no stash was made or taken');
    assert.is((await git(r.repo.dir, 'stash', 'list')).split('\n').length, 1);
    assert.equal(r.agent.calls(), [], 'no agent ran');
  } finally {
    r.cleanup();
  }
});

test('an item that moves the submodule to a commit only its worktree has fails; main keeps a pointer it can fetch', async () => {
  const r = await rigWithSubmodule(
    'Submodule commit',
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) git -c protocol.file.allow=always submodule update -q --init; (cd sub && echo more >> lib.txt && git commit -qam more && git update-ref refs/remotes/origin/forged HEAD); commit "move sub"; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
  );
  try {
    const before = await git(r.repo.dir, 'rev-parse', 'main:sub');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'failed');
    assert.is(st.items['1'].failureCode, 'guard');
    assert.match(st.items['1'].failure, /moved submodule sub to a commit only its worktree has/);
    assert.is(st.items['2'].status, 'complete');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main:sub'), before, "main's submodule pointer did not move");
    assert.is(await git(r.repo.dir, 'cat-file', '-t', 'main:b.txt'), 'blob');
  } finally {
    r.cleanup();
  }
});

test('line endings git changes on every checkout (CRLF committed under eol=lf): refused before any agent, the stash named', async () => {
  const r = await makeAgentRig({ title: 'Line endings', items: ITEMS, body: ITEM_AGENT });
  try {
    writeFileSync(path.join(r.repo.dir, 'win.txt'), 'a\r\nb\r\n');
    await git(r.repo.dir, 'add', 'win.txt');
    await git(r.repo.dir, 'commit', '-qm', 'crlf');
    writeFileSync(path.join(r.repo.dir, '.gitattributes'), '* text eol=lf\n');
    await git(r.repo.dir, 'add', '.gitattributes');
    await git(r.repo.dir, 'commit', '-qm', 'attributes');
    assert.match(await git(r.repo.dir, 'status', '--porcelain'), /^ ?M win\.txt$/m, 'git calls it changed');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 2, show(result));
    const stash = await git(r.repo.dir, 'rev-parse', '--short=10', 'refs/stash');
    assert.ok(
      result.stderr.includes(`git stash saved the working tree's changes as ${stash} but win.txt still differs`),
      result.stderr,
    );
    assert.match(result.stderr, /git add --renormalize \./);
    assert.equal(r.agent.calls(), [], 'no agent ran');
  } finally {
    r.cleanup();
  }
});

test('two items that move the same submodule: escalated as a submodule moved on both sides, not as a rename', async () => {
  const sub = await emptyRepo('wm-sub-');
  writeFileSync(path.join(sub, 'lib.txt'), 'lib\n');
  await git(sub, 'add', '-A');
  await git(sub, 'commit', '-qm', 'lib');
  const commitOn = async (branch: string) => {
    await git(sub, 'checkout', '-q', '-b', branch, 'main');
    await git(sub, 'commit', '-q', '--allow-empty', '-m', branch);
    return git(sub, 'rev-parse', 'HEAD');
  };
  const [one, two] = [await commitOn('one'), await commitOn('two')];
  await git(sub, 'checkout', '-q', 'main');
  const move = (sha: string) =>
    `git update-index --cacheinfo 160000,${sha},sub; git commit -qm "move sub"; report COMPLETE`;
  const r = await makeAgentRig({
    title: 'Submodule twice',
    items: ITEMS,
    waves: [{ parallel: true, items: ITEMS }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) ${move(one)};;
item:2) ${move(two)};;
*) exit 9;;
esac`,
  });
  try {
    await git(r.repo.dir, ...FILE_OK, 'submodule', 'add', '-q', sub, 'sub');
    await git(r.repo.dir, 'commit', '-qm', 'add the submodule');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    const [first, second] = [st.items['1'], st.items['2']].sort((a, b) => a.finishSeq - b.finishSeq);
    assert.is(first.status, 'complete');
    assert.is(second.status, 'escalated');
    assert.is(second.merge.kind, 'heavy');
    assert.match(second.merge.note, /submodule sub was moved on both sides/);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main:sub'), first.issue === 1 ? one : two);
  } finally {
    r.cleanup();
  }
});

test('an item that moves the submodule to a commit its remote has (submodule update --remote) lands', async () => {
  const r = await rigWithSubmodule(
    'Submodule bumped',
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) git -c protocol.file.allow=always submodule update -q --init --remote; commit "bump sub"; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
  );
  try {
    // Published upstream after the user's checkout cloned the submodule: the checkout does not have it.
    writeFileSync(path.join(r.sub, 'lib.txt'), 'lib 2\n');
    await git(r.sub, 'commit', '-qam', 'lib 2');
    const upstream = await git(r.sub, 'rev-parse', 'HEAD');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'rev-parse', 'main:sub'), upstream);
  } finally {
    r.cleanup();
  }
});

test.run();
