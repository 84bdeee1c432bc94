/**
 * What the merge queue and the judge read or write once for many items (docs/performance.md, "Git calls"): the
 * ancestry of many merges in one `merge-base --independent`, and pins of agents judged together in one
 * `update-ref --stdin`, each caller answered for its own pin; the branch of a worktree read from its HEAD file.
 */
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ctx } from '../tasks/engine/context.ts';
import { pinRefOf, writePin } from '../tasks/guards/refs-guard.ts';
import { headFileNames } from '../tasks/items/item-agent.ts';
import { allAncestors } from '../tasks/merging/merge-pass.ts';
import { emptyRepo, git, tempDir } from './support/fixture.ts';

async function commit(dir: string, message: string): Promise<string> {
  await git(dir, 'commit', '-q', '--allow-empty', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** a - b on main, c on a side branch from a. */
async function history(): Promise<{ dir: string; a: string; b: string; c: string }> {
  const dir = await emptyRepo('wm-pass-');
  const a = await commit(dir, 'a');
  const b = await commit(dir, 'b');
  await git(dir, 'switch', '-q', '-c', 'side', a);
  const c = await commit(dir, 'c');
  return { dir, a, b, c };
}

test('allAncestors: true only when every sha is on head', async () => {
  const { dir, a, b, c } = await history();
  assert.ok(await allAncestors(dir, [], b));
  assert.ok(await allAncestors(dir, [a, b], b), 'a and b (head itself) are on b');
  assert.ok(await allAncestors(dir, [a, a, b], b), 'a repeated');
  assert.not.ok(await allAncestors(dir, [a, c], b), 'c is not on b');
  assert.not.ok(await allAncestors(dir, [c], b), 'one sha off head');
  assert.not.ok(await allAncestors(dir, [a, 'f'.repeat(40)], b), 'a sha git does not have');
  // c's own history holds a: with c as head both are on it, and b is not.
  assert.ok(await allAncestors(dir, [a, c], c));
  assert.not.ok(await allAncestors(dir, [a, b], c));
});

test('writePin: pins asked for together are all written, a bad one fails only its own caller', async () => {
  const { dir, a, b, c } = await history();
  const ctx = { repo: dir, plan: { milestone: { id: '7' } } } as unknown as Ctx;
  const shas = [a, b, c, a, b];
  // Asked for at once: the first is written alone, the others together in the next write.
  await Promise.all(shas.map((sha, i) => writePin(ctx, i + 1, sha)));
  for (const [i, sha] of shas.entries())
    assert.is(await git(dir, 'rev-parse', pinRefOf(ctx, i + 1)), sha, `pin of #${i + 1}`);
  const missing = 'e'.repeat(40);
  const results = await Promise.allSettled([
    writePin(ctx, 11, a),
    writePin(ctx, 12, b),
    writePin(ctx, 13, missing),
    writePin(ctx, 14, c),
  ]);
  assert.equal(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
  );
  assert.is(await git(dir, 'rev-parse', pinRefOf(ctx, 12)), b);
  assert.is(await git(dir, 'rev-parse', pinRefOf(ctx, 14)), c);
  const refs = await git(dir, 'for-each-ref', '--format=%(refname)', pinRefOf(ctx, 13));
  assert.is(refs, '', 'no pin at a commit git does not have');
  // The same item twice before a write: the later sha wins, written after the earlier one.
  await Promise.all([writePin(ctx, 20, a), writePin(ctx, 21, a), writePin(ctx, 21, b)]);
  assert.is(await git(dir, 'rev-parse', pinRefOf(ctx, 21)), b);
});

test('headFileNames: true only while the linked worktree is on that branch', async () => {
  const { dir, a } = await history();
  const wt = path.join(tempDir('wm-pass-wt-'), 'item');
  await git(dir, 'worktree', 'add', '-q', '-b', 'item-1', wt, a);
  assert.ok(await headFileNames(wt, 'item-1'));
  assert.not.ok(await headFileNames(wt, 'item'), 'a prefix of the branch');
  assert.not.ok(await headFileNames(wt, 'side'));
  await git(wt, 'switch', '-q', '--detach');
  assert.not.ok(await headFileNames(wt, 'item-1'), 'detached');
  await git(wt, 'switch', '-q', 'item-1');
  assert.ok(await headFileNames(wt, 'item-1'));
  // The main checkout has a .git directory, not a file: git is asked there.
  assert.not.ok(await headFileNames(dir, 'side'));
  assert.not.ok(await headFileNames(path.join(dir, 'missing'), 'side'));
});

test.run();
