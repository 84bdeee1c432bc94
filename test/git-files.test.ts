/**
 * Facts read from git's own files instead of spawning git (docs/performance.md, "Git calls"): each answers only
 * when the file settles it, and agrees with git then; a packed ref, a symbolic ref, a main worktree or a merge in
 * progress make it say "ask git".
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  headFileBranch,
  headFileSha,
  linkedWorktreeOn,
  looseRef,
  refSurelyAbsent,
  surelyNoMergeHead,
  surelyNothingToPrune,
  worktreeRegistered,
} from '../tasks/lib/git-files.ts';
import {
  looseCommit,
  looseFirstParentLog,
  looseLinearLog,
  looseObjectExists,
  looseReachable,
  onFirstParentChain,
} from '../tasks/lib/git-objects.ts';
import { emptyRepo, git, tempDir } from './support/fixture.ts';

async function repo(): Promise<{ dir: string; common: string; a: string; b: string }> {
  const dir = await emptyRepo('wm-gitfiles-');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', 'a');
  const a = await git(dir, 'rev-parse', 'HEAD');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', 'b');
  const b = await git(dir, 'rev-parse', 'HEAD');
  return { dir, common: path.join(dir, '.git'), a, b };
}

test('looseRef: the sha git reads for a loose ref; null once it is packed, symbolic, or absent', async () => {
  const { dir, common, a, b } = await repo();
  await git(dir, 'branch', 'milestone/7-x', a);
  assert.is(looseRef(common, 'refs/heads/main'), b);
  assert.is(looseRef(common, 'refs/heads/milestone/7-x'), a);
  assert.is(looseRef(common, 'refs/heads/nope'), null);
  assert.is(looseRef(common, 'HEAD'), null, 'only refs/…');
  assert.is(looseRef(common, 'refs/heads/../../HEAD'), null);
  await git(dir, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main');
  assert.is(looseRef(common, 'refs/heads/alias'), null, 'a symbolic ref: ask git');
  await git(dir, 'pack-refs', '--all');
  assert.is(looseRef(common, 'refs/heads/milestone/7-x'), null, 'packed: ask git');
  assert.is(await git(dir, 'rev-parse', 'refs/heads/milestone/7-x'), a);
  // A loose file written after packing wins over packed-refs, for git as here.
  await git(dir, 'update-ref', 'refs/heads/milestone/7-x', b);
  assert.is(looseRef(common, 'refs/heads/milestone/7-x'), b);
});

test('refSurelyAbsent: only with neither a loose file nor a packed-refs line', async () => {
  const { dir, common, a } = await repo();
  assert.ok(refSurelyAbsent(common, 'refs/heads/work/7-1'));
  assert.not.ok(refSurelyAbsent(common, 'refs/heads/main'));
  await git(dir, 'branch', 'work/7-1', a);
  assert.not.ok(refSurelyAbsent(common, 'refs/heads/work/7-1'));
  await git(dir, 'pack-refs', '--all');
  assert.not.ok(refSurelyAbsent(common, 'refs/heads/work/7-1'), 'packed');
  assert.ok(refSurelyAbsent(common, 'refs/heads/work/7-10'), 'a longer name is another ref');
  mkdirSync(path.join(common, 'reftable'));
  assert.not.ok(refSurelyAbsent(common, 'refs/heads/work/7-10'), 'a reftable repository: ask git');
});

test('HEAD file and MERGE_HEAD of a linked worktree; the main worktree is left to git', async () => {
  const { dir, common, a, b } = await repo();
  const wt = path.join(tempDir('wm-gitfiles-wt-'), 'integration');
  await git(dir, 'worktree', 'add', '-q', '-b', 'milestone/7-x', wt, a);
  assert.is(headFileBranch(wt), 'milestone/7-x');
  assert.is(headFileSha(wt, common), a);
  assert.ok(surelyNoMergeHead(wt));
  await git(wt, 'switch', '-q', '--detach');
  assert.is(headFileBranch(wt), null, 'detached');
  assert.is(headFileSha(wt, common), null);
  await git(wt, 'switch', '-q', 'milestone/7-x');
  await git(dir, 'pack-refs', '--all');
  assert.is(headFileSha(wt, common), null, 'packed branch: ask git');
  await git(wt, 'commit', '-q', '--allow-empty', '-m', 'on integration');
  assert.is(headFileSha(wt, common), await git(wt, 'rev-parse', 'HEAD'));
  // A merge left in progress (a crash): its MERGE_HEAD file is there.
  writeFileSync(path.join(await git(wt, 'rev-parse', '--absolute-git-dir'), 'MERGE_HEAD'), `${b}\n`);
  assert.not.ok(surelyNoMergeHead(wt));
  assert.is(headFileBranch(dir), null, 'the main worktree: ask git');
  assert.not.ok(surelyNoMergeHead(dir));
  assert.is(headFileBranch(path.join(dir, 'missing')), null);
});

test('surelyNothingToPrune: true exactly when git worktree prune would remove nothing', async () => {
  const { dir, common, a } = await repo();
  assert.ok(surelyNothingToPrune(common), 'no worktrees at all');
  const root = tempDir('wm-gitfiles-prune-');
  const one = path.join(root, 'one');
  const two = path.join(root, 'two');
  await git(dir, 'worktree', 'add', '-q', '-b', 'w1', one, a);
  await git(dir, 'worktree', 'add', '-q', '-b', 'w2', two, a);
  assert.ok(surelyNothingToPrune(common));
  assert.ok(linkedWorktreeOn(common, one, 'w1'));
  assert.not.ok(linkedWorktreeOn(common, one, 'w2'), 'another branch');
  assert.not.ok(linkedWorktreeOn(common, dir, 'main'), 'the main worktree: ask git');
  assert.is(worktreeRegistered(common, one), true);
  assert.is(worktreeRegistered(common, path.join(root, 'three')), false);
  rmSync(two, { recursive: true, force: true });
  assert.not.ok(surelyNothingToPrune(common), 'a folder deleted by hand');
  assert.not.ok(linkedWorktreeOn(common, two, 'w2'));
  assert.is(worktreeRegistered(common, two), true, 'listed by git until pruned');
  assert.match(await git(dir, 'worktree', 'list'), /two/);
  await git(dir, 'worktree', 'lock', one);
  rmSync(one, { recursive: true, force: true });
  await git(dir, 'worktree', 'prune');
  // git pruned `two` and kept the locked `one`: nothing more to prune, as the files say.
  assert.ok(surelyNothingToPrune(common));
  assert.is(worktreeRegistered(common, two), false);
  assert.match(await git(dir, 'worktree', 'list', '--porcelain'), /locked/);
});

test('loose commits: parents and subject as git gives them; packed objects are left to git', async () => {
  const { dir, common, a, b } = await repo();
  await git(dir, 'switch', '-q', '-c', 'side', a);
  await git(dir, 'commit', '-q', '--allow-empty', '-m', 'side work', '-m', 'body text');
  const side = await git(dir, 'rev-parse', 'HEAD');
  await git(dir, 'switch', '-q', 'main');
  await git(dir, 'merge', '-q', '--no-ff', '-m', 'Merge #1: Side', 'side');
  const merge = await git(dir, 'rev-parse', 'HEAD');
  assert.equal(looseCommit(common, merge), { parents: [b, side], subject: 'Merge #1: Side' });
  assert.is(looseCommit(common, side)?.subject, await git(dir, 'log', '-1', '--format=%s', side));
  assert.ok(looseObjectExists(common, merge));
  assert.equal(
    looseFirstParentLog(common, merge, a, 10),
    [
      { sha: merge, subject: 'Merge #1: Side' },
      { sha: b, subject: 'b' },
    ],
    'first parents only, down to the stop',
  );
  assert.is(looseFirstParentLog(common, merge, a, 1), null, 'over the limit: ask git');
  assert.is(looseFirstParentLog(common, merge, side, 10), null, 'the stop is off the chain: ask git');
  assert.is(looseLinearLog(common, merge, a, 10), null, 'a merge on the way: base..head holds its side too, ask git');
  assert.ok(onFirstParentChain(common, merge, [merge, b], 4));
  assert.not.ok(onFirstParentChain(common, merge, [side], 4), 'a second parent is not on the chain');
  await git(dir, 'gc', '-q', '--prune=now');
  assert.not.ok(looseObjectExists(common, merge));
  assert.is(looseCommit(common, merge), null, 'packed: ask git');
  assert.not.ok(onFirstParentChain(common, merge, [b], 4));
});

test('looseLinearLog: base..head as git log gives it, for a line of commits on the base', async () => {
  const { dir, common, b } = await repo();
  // Subjects git prints in its own way: leading blank lines skipped, a first paragraph of several lines joined,
  // trailing blanks dropped, leading ones kept.
  const messages = ['\n\n  indented first  \nsecond line\t\n\nbody', 'plain', 'tab\tinside \n'];
  for (const message of messages) await git(dir, 'commit', '-q', '--allow-empty', '--cleanup=verbatim', '-m', message);
  const head = await git(dir, 'rev-parse', 'HEAD');
  const fromGit = (await git(dir, 'log', '--format=%H%x09%s', `${b}..${head}`)).split('\n').map((line) => {
    const [sha = '', ...subject] = line.split('\t');
    return { sha, subject: subject.join('\t') };
  });
  assert.is(fromGit.length, 3);
  assert.equal(looseLinearLog(common, head, b, 10), fromGit);
  assert.equal(looseLinearLog(common, head, head, 10), [], 'nothing since the base');
  assert.is(looseLinearLog(common, head, b, 2), null, 'over the limit: ask git');
  await git(dir, 'gc', '-q', '--prune=now');
  assert.is(looseLinearLog(common, head, b, 10), null, 'packed: ask git');
});

test('looseReachable: what git merge-base --is-ancestor says for commits made after the stop', async () => {
  const { dir, common, a, b } = await repo();
  // b is the stop (a milestone's base); a side branch and a merge are made after it, and one more commit on main.
  await git(dir, 'switch', '-q', '-c', 'side', b);
  await git(dir, 'commit', '-q', '--allow-empty', '-m', 'side');
  const side = await git(dir, 'rev-parse', 'HEAD');
  await git(dir, 'commit', '-q', '--allow-empty', '-m', 'later on side');
  const later = await git(dir, 'rev-parse', 'HEAD');
  await git(dir, 'switch', '-q', 'main');
  await git(dir, 'merge', '-q', '--no-ff', '-m', 'merge', side);
  const merge = await git(dir, 'rev-parse', 'HEAD');
  const isAncestor = async (x: string, y: string) =>
    await git(dir, 'merge-base', '--is-ancestor', x, y).then(
      () => true,
      () => false,
    );
  for (const [target, from] of [
    [side, merge],
    [merge, merge],
    [b, merge],
    [later, merge],
    [merge, side],
    [later, b],
  ] as const)
    assert.is(looseReachable(common, from, target, b, 100), await isAncestor(target, from), `${target} from ${from}`);
  assert.is(
    looseReachable(common, merge, a, b, 100),
    false,
    'behind the stop is not walked (no target of ours is there)',
  );
  assert.is(looseReachable(common, merge, later, b, 1), null, 'over the limit: ask git');
  await git(dir, 'gc', '-q', '--prune=now');
  assert.is(looseReachable(common, merge, later, b, 100), null, 'packed: ask git');
});

test.run();
