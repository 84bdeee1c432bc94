/**
 * The conflict-resolution agent (docs/steps.md, "Merging": medium conflicts) when it does not do what its prompt asks:
 * it commits the merge itself, aborts it, fails, resolves by deleting the file; and binary files, which are never
 * unioned.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, parentsOf, showFile } from './support/fixture.ts';
import { assertEscalated, assertMerged, CALC, CALC_ITEMS, mainFile, output, scenario } from './support/merge-rig.ts';

const RESOLVED = 'function total(a, b) {\n  return (a + b) * 2 + 1;\n}\n';

test('medium: a conflict agent that commits the merge itself → kept, with the merge queue message', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
conflict:2) printf 'function total(a, b) {\\n  return (a + b) * 2 + 1;\\n}\\n' > calc.js; git add calc.js; git commit -qm "resolved"; report COMPLETE "committed";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'medium');
    assert.is(await mainFile(s, 'calc.js'), RESOLVED);
    assert.is(
      (await parentsOf(s.repo.dir, s.state.items['2'].merge.sha))[0],
      s.state.items['1'].merge.sha,
      "made on Alpha's merge",
    );
  } finally {
    s.cleanup();
  }
});

test('medium: a conflict agent that aborts the merge → escalated, never recorded as merged', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) git merge --abort; report COMPLETE "gave up";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /conflict agent ended the merge/);
  } finally {
    s.cleanup();
  }
});

test("medium: a conflict agent that adds another item's tip to MERGE_HEAD → escalated; that item still lands", async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) printf 'function total(a, b) {\\n  return (a + b) * 2 + 1;\\n}\\n' > calc.js; git add calc.js
  git rev-parse refs/work-milestone/7/items/3 >> "$(git rev-parse --git-path MERGE_HEAD)"; report COMPLETE "resolved";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /the merge commit got other parents than .* and the item/);
    // #3 was merged as itself, with its file: not swallowed as an "empty" merge.
    await assertMerged(s, 3, 'clean');
    assert.is(await mainFile(s, 'g.txt'), 'gamma\n');
  } finally {
    s.cleanup();
  }
});

test('medium: a conflict agent that fails → escalated with its failure', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) echo "cannot decide" >&2; exit 1;;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /the conflict agent failed: .*cannot decide/);
  } finally {
    s.cleanup();
  }
});

test('medium: a resolution that deletes the conflicted file is staged and merged', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
conflict:2) rm calc.js; report COMPLETE "neither is needed";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'medium');
    assert.not.ok(
      (await git(s.repo.origin as string, 'ls-tree', '--name-only', 'main')).split('\n').includes('calc.js'),
    );
  } finally {
    s.cleanup();
  }
});

test('binary file appended on both sides → medium (never a text union), resolved by the agent choosing a side', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf 'alpha\\000' >> logo.bin; commit alpha; report COMPLETE;;
item:2) printf 'beta\\000' >> logo.bin; commit beta; report COMPLETE;;
conflict:2) git checkout -q --theirs logo.bin; git add logo.bin; report COMPLETE "took Beta's";;
*) exit 9;;
esac`,
    { 'logo.bin': 'BIN\u0000base\n' },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'medium');
    assert.is(await showFile(s.repo.origin as string, 'main', 'logo.bin'), 'BIN\u0000base\nbeta\u0000');
  } finally {
    s.cleanup();
  }
});

test.run();
