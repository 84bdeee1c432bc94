/**
 * Quality gates and landing (docs/steps.md: gates, land, pre-merge gates in "Merging") through the real CLI: red gates
 * roll back or fail the run with `main` untouched, fix agents (role fix) get their chances, timeouts and missing
 * commands have their exit codes, `files:` filters, `--no-push`, and landing when `main` is not checked out.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ITEM_AGENT, ITEMS, makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import {
  git,
  parentsOf,
  readEvents,
  readStateFile,
  refExists,
  runSteps,
  STEPS_TO_MERGE,
  tempDir,
} from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';
import { AFTER_ONE, BREAKING_CALC_ITEMS, CALC, CONFLICT_BY_PID, conflictAgentPids } from './support/merge-rig.ts';
import { killProcessesWith, processesWith } from './support/processes.ts';
import type { PlanKeys } from './support/wave-rig.ts';

type Rig = AgentRig;

/** A serial one-wave milestone with `count` items, `gates` as the plan's quality-gates block, `extra` defaults. */
function rig(opts: {
  body: string;
  gates: PlanKeys;
  count?: number;
  defaults?: PlanKeys;
  files?: Readonly<Record<string, string>>;
}): Promise<Rig> {
  return makeAgentRig({
    title: 'Gates and land',
    items: ITEMS.slice(0, opts.count ?? 1),
    body: opts.body,
    gates: opts.gates,
    defaults: opts.defaults,
    origin: true,
    files: opts.files,
  });
}

// `run` in this process: what is tested is the milestone's gates and landing, not the script's process (cli.test.ts,
// full-run.test.ts run the script); each process start costs a second or more.
const run = (r: Rig, ...flags: string[]) => runInProcess('run', ['7', '--repo', r.repo.dir, ...flags]);
const originMain = (r: Rig) => git(r.repo.origin as string, 'rev-parse', 'main');
const originFiles = async (r: Rig) =>
  (await git(r.repo.origin as string, 'ls-tree', '--name-only', 'main')).split('\n');
const gateEvents = (r: Rig, name: string) => readEvents(r.repo).filter((e) => e.type === 'gate' && e.name === name);
const ancestor = (dir: string, a: string, b: string) =>
  git(dir, 'merge-base', '--is-ancestor', a, b).then(
    () => true,
    () => false,
  );

/** Fails once a.txt and b.txt are both there: Beta's clean merge on top of Alpha is red. */
const NO_CLASH = { 'pre-merge': [{ name: 'no-clash', run: '! (test -f a.txt && test -f b.txt)' }] };

test('red pre-merge gate after a clean merge: integration rolled back, fix agent in the item worktree, still red → escalated; main never red', async () => {
  const r = await rig({
    count: 2,
    gates: NO_CLASH,
    body: `${ITEM_AGENT}
case "$WM_ROLE:$WM_ISSUE" in
fix:2) grep -q no-clash "$WM_PROMPT_FILE"; echo tried >> tried.txt; commit "try a fix"; report COMPLETE "tried";;
fix:*) exit 9;;
esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, /#2 escalated: pre-merge gates still red after a fix/);
    const state = readStateFile(r.repo);
    const alpha = state.items['1'].merge;
    assert.is(alpha.kind, 'clean');
    const beta = state.items['2'];
    assert.is(beta.status, 'escalated');
    assert.is(beta.merge.sha, null);
    assert.is(beta.merge.kind, 'clean', 'the class of the merge that was tried');
    // Two tries, both red; after the first, green on Alpha's tip without Beta (Beta is to blame); then green once, in
    // the gates step on integration HEAD. Neither red merge is on main.
    const events = gateEvents(r, 'no-clash');
    assert.equal(
      events.map((e) => e.exitCode),
      [1, 0, 1, 0],
      JSON.stringify(events),
    );
    assert.is(events[1].sha, alpha.sha, 'the check before the merge ran on Alpha');
    const red = [events[0], events[2]];
    for (const e of red) {
      assert.is(e.exitCode, 1);
      assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', e.sha), 'Merge #2: Beta');
      assert.equal((await parentsOf(r.repo.dir, e.sha))[0], alpha.sha, 'the red merge was made on Alpha');
      assert.not.ok(await ancestor(r.repo.dir, e.sha, 'main'), 'a red merge reached main');
    }
    const followUp = beta.merge.followUp;
    const added = await git(r.repo.dir, 'log', '--format=%H', '-1', 'main', '--', `plan/backlog/${followUp}.md`);
    assert.equal(
      await parentsOf(r.repo.dir, added),
      [alpha.sha],
      'the escalation was committed on the rolled-back integration',
    );
    // The fix agent ran once, role fix, in Beta's worktree, and its commit is on Beta's kept branch.
    const fixes = r.agent.calls().filter((c) => c.role === 'fix');
    assert.equal(fixes, [{ role: 'fix', issue: '2', cwd: path.join(r.repo.dir, 'worktrees', '7-2-beta') }]);
    assert.ok(await refExists(r.repo.dir, 'refs/heads/work/7-2-beta'));
    assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', 'work/7-2-beta'), 'try a fix');
    const files = await originFiles(r);
    assert.ok(files.includes('a.txt'));
    assert.not.ok(files.includes('b.txt') || files.includes('tried.txt'), files.join(' '));
    assert.is(await originMain(r), await git(r.repo.dir, 'rev-parse', 'main'));
  } finally {
    r.cleanup();
  }
});

test('a pre-merge gate red without the item and on main too (a tool missing): the run stops at once, no fix agent', async () => {
  const r = await rig({
    count: 2,
    // The "tool" is a file in the repository's git folder, which every worktree of it shares.
    gates: {
      'pre-merge': [
        { name: 'needs-tool', run: 'test -e "$(git rev-parse --path-format=absolute --git-common-dir)/tool"' },
      ],
    },
    body: `${ITEM_AGENT}
case "$WM_ROLE" in fix) report COMPLETE "tried";; esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 1, show(result));
    assert.match(
      result.stderr,
      /gate "needs-tool" \(pre-merge\) fails on main as the milestone started from it \([0-9a-f]{10}\) too, before any change it is checked for: this milestone did not break it, so no fix agent was started/,
    );
    assert.not.match(result.stderr, /merged unchecked/);
    assert.equal(
      r.agent.calls().filter((c) => c.role === 'fix'),
      [],
    );
    const state = readStateFile(r.repo);
    assert.is(state.items['2'].status, 'complete', 'not escalated');
    assert.is(state.items['2'].merge, null, 'not merged: the run stopped first');
    assert.equal(readdirSync(path.join(r.repo.dir, 'plan', 'backlog')).sort(), ['1.md', '2.md'], 'no follow-up item');
    // The tool there, the same command lands both.
    writeFileSync(path.join(r.repo.dir, '.git', 'tool'), '');
    const again = await run(r);
    assert.is(again.code, 0, show(again));
    assert.ok((await originFiles(r)).includes('b.txt'));
  } finally {
    r.cleanup();
  }
});
test('an earlier item that broke a pre-merge gate unchecked: the next item is not blamed; the gates step ejects the culprit', async () => {
  const r = await rig({
    count: 2,
    gates: { 'pre-merge': [{ name: 'no-broken', run: '! test -f broken.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo x > broken.txt; commit broken; report COMPLETE;;
item:2) ${AFTER_ONE} echo beta > b.txt; commit beta; report COMPLETE;;
fix:*) report COMPLETE "could not";;
esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    const state = readStateFile(r.repo);
    // #1 merged first, unchecked (a clean merge from the same tip); #2 after it is not blamed.
    assert.is(state.items['1'].status, 'ejected', JSON.stringify(state.items['1']));
    assert.is(state.items['2'].status, 'complete');
    const files = await originFiles(r);
    assert.ok(files.includes('b.txt') && !files.includes('broken.txt'), files.join(' '));
  } finally {
    r.cleanup();
  }
});

test('a pre-merge gate for some files an earlier unchecked merge broke: the next item touching them is not blamed', async () => {
  const r = await rig({
    count: 2,
    gates: { 'pre-merge': [{ name: 'pkg', run: '! test -f pkg/broken', files: ['pkg/**'] }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) mkdir -p pkg; echo x > pkg/broken; commit broken; report COMPLETE;;
item:2) ${AFTER_ONE} mkdir -p pkg; echo b > pkg/b; commit pkg-b; report COMPLETE;;
fix:*) report COMPLETE "could not";;
esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    const state = readStateFile(r.repo);
    assert.is(state.items['1'].status, 'ejected');
    assert.is(state.items['2'].status, 'complete');
    assert.match(state.items['2'].merge.note, /merged unchecked/);
    assert.equal(
      r.agent.calls().filter((c) => c.role === 'fix' && c.issue === '2'),
      [],
      'no fix agent for #2',
    );
    const files = (await git(r.repo.origin as string, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    assert.ok(files.includes('pkg/b') && !files.includes('pkg/broken'), files.join(' '));
  } finally {
    r.cleanup();
  }
});

test('a conflict merge whose pre-merge gate an earlier merge broke: the resolved merge is kept, no second conflict agent', async () => {
  const r = await rig({
    count: 2,
    gates: { 'pre-merge': [{ name: 'no-broken', run: '! test -f broken.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `case "$WM_ROLE:$WM_ISSUE" in
${BREAKING_CALC_ITEMS}
${CONFLICT_BY_PID}
fix:*) git rm -q broken.txt; git commit -qm "drop broken.txt"; report COMPLETE "dropped";;
esac`,
    files: { 'calc.js': CALC },
  });
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const agents = conflictAgentPids(r.tools);
    assert.is(agents.length, 1, 'one conflict agent');
    const second = readStateFile(r.repo).items['2'];
    assert.is(second.merge.kind, 'medium');
    assert.match(second.merge.note, /merged unchecked/);
    assert.match(await git(r.repo.dir, 'show', 'main:calc.js'), new RegExp(`// ${agents[0]}$`, 'm'));
  } finally {
    r.cleanup();
  }
});

test('a post-merge gate for some files, red on main only because they are not there: not called red on main; fix agents', async () => {
  const r = await rig({
    count: 2,
    gates: { 'post-merge': [{ name: 'pkg', run: 'cd pkg && test -f ok', files: ['pkg/**'] }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) mkdir pkg; echo bug > pkg/index.txt; commit pkg; report COMPLETE;;
fix:*) echo fixed > pkg/ok; commit "add pkg/ok"; report COMPLETE fixed;;
esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.not.match(result.stderr, /this milestone did not break it/);
    assert.is(r.agent.calls().filter((c) => c.role === 'fix').length, 1);
    const files = (await git(r.repo.origin as string, 'ls-tree', '-r', '--name-only', 'main')).split('\n');
    assert.ok(files.includes('pkg/ok') && files.includes('a.txt'), files.join(' '));
  } finally {
    r.cleanup();
  }
});

test('red pre-merge gate fixed by the fix agent in the item worktree → merged on the second try', async () => {
  const r = await rig({
    count: 2,
    gates: NO_CLASH,
    body: `${ITEM_AGENT}
case "$WM_ROLE:$WM_ISSUE" in
fix:2) git mv b.txt b2.txt; commit "rename b.txt"; report COMPLETE "renamed";;
esac`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const beta = readStateFile(r.repo).items['2'];
    assert.is(beta.status, 'complete');
    assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', beta.merge.sha), 'Merge #2: Beta');
    // Red on the first try, green on the tip before it (Beta is to blame), green on the requeued merge, green again
    // in the gates step.
    const events = gateEvents(r, 'no-clash');
    assert.equal(
      events.map((e) => e.exitCode),
      [1, 0, 0, 0],
    );
    assert.is(events[2].sha, beta.merge.sha);
    const files = await originFiles(r);
    assert.ok(files.includes('a.txt') && files.includes('b2.txt') && !files.includes('b.txt'), files.join(' '));
  } finally {
    r.cleanup();
  }
});

test('post-merge gate red, fixed by the fix agent on its second call → lands', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'needs-fix', run: 'test -f fixed.txt' }] },
    body: `${ITEM_AGENT}
if [ "$WM_ROLE" = fix ]; then
  n=$(count fix)
  if [ "$n" = 2 ]; then echo ok > fixed.txt; commit "fix the gate"; fi
  report COMPLETE "call $n"
fi`,
  });
  try {
    const before = await originMain(r);
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.is(readFileSync(path.join(r.tools, 'count-fix'), 'utf8').trim(), '2');
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    assert.equal(
      r.agent
        .calls()
        .filter((c) => c.role === 'fix')
        .map((c) => c.cwd),
      [integration, integration],
    );
    const state = readStateFile(r.repo);
    assert.is(state.gates.fixAttempts, 2);
    assert.equal(
      state.gates.results.map((g: any) => [g.name, g.exitCode]),
      [['needs-fix', 0]],
    );
    // Red, red again on the same sha before anything is blamed (docs/bisection.md), red after fix 1, green after fix 2.
    assert.equal(
      gateEvents(r, 'needs-fix').map((e) => e.exitCode),
      [1, 1, 1, 0],
    );
    assert.ok((await originFiles(r)).includes('fixed.txt'));
    assert.ok(await ancestor(r.repo.dir, before, await originMain(r)));
    assert.match(
      await git(r.repo.origin as string, 'log', '-1', '--format=%s', 'main'),
      /^Merge milestone 7: Gates and land$/,
    );
  } finally {
    r.cleanup();
  }
});

/** A run whose gates stay red: exit 1 naming the gate, main untouched locally and on origin. */
async function assertRedRun(r: Rig, gate: string, exitCode: number, fixCalls: number): Promise<void> {
  const mainBefore = await git(r.repo.dir, 'rev-parse', 'main');
  const originBefore = await originMain(r);
  const result = await run(r);
  assert.is(result.code, 1, show(result));
  assert.match(result.stderr, new RegExp(`gate "${gate}" \\(post-merge\\) still fails .* \\(exit ${exitCode}\\)`));
  assert.is(await git(r.repo.dir, 'rev-parse', 'main'), mainBefore, 'local main untouched');
  assert.is(await originMain(r), originBefore, 'origin main untouched');
  // The first run, its retry on the same sha (one item: nothing to bisect), and one run after each fix agent.
  const events = gateEvents(r, gate);
  assert.is(events.length, fixCalls + 2);
  assert.ok(
    events.every((e) => e.exitCode === exitCode),
    JSON.stringify(events),
  );
  assert.is(r.agent.calls().filter((c) => c.role === 'fix').length, fixCalls);
  const state = readStateFile(r.repo);
  assert.is(state.gates, null);
  assert.is(state.land, null);
}

test('post-merge gate never fixed → exit 1 naming the gate; main untouched', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'always-red', run: 'echo broken; exit 3' }] },
    defaults: { 'max-fix-attempts': 1 },
    body: `${ITEM_AGENT}
if [ "$WM_ROLE" = fix ]; then report COMPLETE "could not"; fi`,
  });
  try {
    await assertRedRun(r, 'always-red', 3, 1);
  } finally {
    r.cleanup();
  }
});

test('gate timeout → exit code 124, its process group killed', async () => {
  // A sleep no other process has (its length is the marker); it started, and nothing of the gate outlives the run.
  const marker = String(600000 + Math.floor(Math.random() * 99999));
  const started = path.join(tempDir('wm-gate-'), 'started');
  const run = `echo started > '${started}'; sleep ${marker}; echo woke > woke.txt`;
  const r = await rig({
    gates: { 'post-merge': [{ name: 'slow', run, timeout: '1s' }] },
    defaults: { 'max-fix-attempts': 0 },
    body: ITEM_AGENT,
  });
  try {
    await assertRedRun(r, 'slow', 124, 0);
    assert.ok(existsSync(started), 'the gate never got to its sleep');
    assert.equal(processesWith(`sleep ${marker}`), [], 'the gate kept running after its timeout');
    assert.not.ok(
      existsSync(path.join(r.repo.dir, 'worktrees', 'milestone-7', 'woke.txt')),
      'the gate kept running after its timeout',
    );
  } finally {
    killProcessesWith(`sleep ${marker}`);
    rmSync(path.dirname(started), { recursive: true, force: true });
    r.cleanup();
  }
});

test('gate whose command does not exist → exit code 127', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'missing', run: 'no-such-command-wm-test --flag' }] },
    defaults: { 'max-fix-attempts': 0 },
    body: ITEM_AGENT,
  });
  try {
    await assertRedRun(r, 'missing', 127, 0);
  } finally {
    r.cleanup();
  }
});

test('gate killed by a signal → 128 + its number (SIGKILL: 137)', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'killed', run: 'kill -9 $$' }] },
    defaults: { 'max-fix-attempts': 0 },
    body: ITEM_AGENT,
  });
  try {
    await assertRedRun(r, 'killed', 137, 0);
  } finally {
    r.cleanup();
  }
});

test('gate files: filter: a gate whose patterns match no changed file is skipped, one that matches runs', async () => {
  const r = await rig({
    count: 2,
    gates:
      'pre-merge: [{name: ts-only, run: "exit 1", files: ["src/**/*.ts"]}, {name: txt-pre, run: "true", files: ["*.txt"]}]\npost-merge: [{name: ts-post, run: "exit 1", files: ["**/*.ts"]}, {name: txt-post, run: "true", files: ["b.txt"]}]',
    body: ITEM_AGENT,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.is(gateEvents(r, 'ts-only').length, 0);
    assert.is(gateEvents(r, 'ts-post').length, 0);
    // txt-pre: Beta's merge (based on an older integration HEAD) and the gates step; txt-post: the gates step.
    assert.equal(
      gateEvents(r, 'txt-pre').map((e) => e.exitCode),
      [0, 0],
    );
    assert.equal(
      gateEvents(r, 'txt-post').map((e) => e.exitCode),
      [0],
    );
    const report = readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8');
    assert.match(report, /post-merge `txt-post`: exit 0/);
    assert.not.match(report, /ts-only|ts-post/);
  } finally {
    r.cleanup();
  }
});

test('--no-push: main merged locally, origin untouched; a later run pushes', async () => {
  const r = await rig({ gates: { 'post-merge': ['true'] }, body: ITEM_AGENT });
  try {
    const originBefore = await originMain(r);
    const result = await run(r, '--no-push');
    assert.is(result.code, 0, show(result));
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', 'main'), 'Merge milestone 7: Gates and land');
    assert.is((await parentsOf(r.repo.dir, 'main')).length, 2);
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha');
    assert.is(await originMain(r), originBefore, 'origin untouched');
    assert.is(readStateFile(r.repo).land.pushed, false);
    assert.not.match(readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8'), /pushed to origin/);
    const again = await run(r);
    assert.is(again.code, 0, show(again));
    assert.is(await originMain(r), main, 'pushed by the next run');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main);
  } finally {
    r.cleanup();
  }
});

test('a fast-forward of main that fails on a stray main.lock: your checkout is put back as it was; removed, it lands', async () => {
  const r = await rig({
    gates: { 'post-merge': ['true'] },
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:*) echo "$WM_ISSUE" > "f$WM_ISSUE.txt"; commit "item $WM_ISSUE"; touch "$(git rev-parse --git-common-dir)/refs/heads/main.lock"; report COMPLETE;;
*) exit 9;;
esac`,
  });
  try {
    const before = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await run(r, '--no-push');
    assert.is(result.code, 1, show(result));
    assert.match(result.stderr, /could not fast-forward main in .*: .*main\.lock.*; your checkout is as it was/);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), before);
    assert.is(await git(r.repo.dir, 'status', '--porcelain'), '', 'nothing left changed in the checkout');
    rmSync(path.join(r.repo.dir, '.git', 'refs', 'heads', 'main.lock'));
    const again = await run(r, '--no-push');
    assert.is(again.code, 0, show(again));
    assert.is(await git(r.repo.dir, 'show', 'main:f1.txt'), '1');
    assert.is(await git(r.repo.dir, 'status', '--porcelain'), '');
  } finally {
    r.cleanup();
  }
});

test('main not checked out anywhere: landed through a temporary worktree; the user stays on their branch', async () => {
  const r = await rig({ gates: { 'post-merge': ['true'] }, body: ITEM_AGENT });
  try {
    await git(r.repo.dir, 'checkout', '-q', '-b', 'feature');
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'symbolic-ref', 'HEAD'), 'refs/heads/feature');
    assert.is(await git(r.repo.dir, 'status', '--porcelain'), '');
    assert.is(await git(r.repo.dir, 'log', '-1', '--format=%s', 'main'), 'Merge milestone 7: Gates and land');
    assert.is(await originMain(r), await git(r.repo.dir, 'rev-parse', 'main'));
    assert.ok((await originFiles(r)).includes('a.txt'));
    assert.is(
      (await git(r.repo.dir, 'worktree', 'list', '--porcelain')).split('\n').filter((l) => l.startsWith('worktree '))
        .length,
      1,
    );
    assert.not.ok(existsSync(path.join(r.repo.stateDir, 'land-worktree')));
  } finally {
    r.cleanup();
  }
});

test('leftovers: gate output in the integration worktree does not stop complete; an item worktree with uncommitted work is kept with its branch', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'writes-log', run: 'echo ran > gate-output.log' }] },
    body: `echo alpha > a.txt; commit alpha; echo scratch > scratch.tmp; report COMPLETE`,
  });
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const state = readStateFile(r.repo);
    assert.ok(state.complete, 'completed');
    assert.ok(
      state.items['1'].result.flags.some((f: string) => f.includes('scratch.tmp')),
      'the leftover is flagged',
    );
    assert.ok((await originFiles(r)).includes('a.txt'));
    assert.not.ok((await originFiles(r)).includes('scratch.tmp'));
    // The integration worktree and branch are gone; the item's worktree stays on its own branch, its work intact.
    const worktrees = (await git(r.repo.dir, 'worktree', 'list', '--porcelain')).split('\n\n').filter(Boolean);
    const itemDir = path.join(r.repo.dir, 'worktrees', '7-1-alpha');
    assert.is(worktrees.length, 2, worktrees.join('\n'));
    assert.ok(
      worktrees.some((w) => w.startsWith(`worktree ${itemDir}\n`) && w.includes('branch refs/heads/work/7-1-alpha')),
      worktrees.join('\n'),
    );
    assert.not.ok(existsSync(path.join(r.repo.dir, 'worktrees', 'milestone-7')), 'integration worktree removed');
    assert.not.ok(await refExists(r.repo.dir, 'refs/heads/milestone/7-gates-and-land'));
    assert.ok(await refExists(r.repo.dir, 'refs/heads/work/7-1-alpha'), 'the kept worktree keeps its branch');
    assert.is(await git(itemDir, 'status', '--porcelain'), '?? scratch.tmp');
    assert.match(
      result.stderr,
      /kept: worktrees\/7-1-alpha \(uncommitted changes\), work\/7-1-alpha \(its worktree is kept\)/,
    );
    assert.match(result.stderr, /removed the integration worktree with files the gates left in it: gate-output\.log/);
    const again = await run(r);
    assert.is(again.code, 0, show(again));
  } finally {
    r.cleanup();
  }
});

/** Item 1 commits a.txt holding BAD; fix agents fail. */
const BAD_ITEM = `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BAD > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`;

/** The put-back notices of a run: what was found and where the patch is. */
function putBack(r: Rig, pattern: RegExp): { message: string; patch: string }[] {
  return readEvents(r.repo)
    .filter((e) => e.type === 'notice' && pattern.test(String(e.message)))
    .map((e) => ({
      message: String(e.message),
      patch: /the changes are in (\S+)$/.exec(String(e.message))?.[1] ?? '',
    }));
}

test('a red gate that rewrote the file it checks is run again on the tree, not on its rewrite: nothing red lands', async () => {
  // Like \`eslint --fix\` that still exits 1: the first run "fixes" a.txt in the integration worktree and is red; the
  // second run on the same sha (is it flaky?) must see the committed a.txt again, or it would pass and land BAD. The
  // fix agent must not find the rewrite either: its leftovers are committed as its fix.
  const r = await rig({
    gates: {
      'post-merge': [{ name: 'fix-and-fail', run: 'if grep -q BAD a.txt; then echo GOOD > a.txt; exit 1; fi' }],
    },
    defaults: { 'max-fix-attempts': 1 },
    body: BAD_ITEM,
  });
  try {
    const before = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await run(r);
    assert.is.not(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), before, 'main moved');
    assert.is(await originMain(r), before, "origin's main moved");
    const events = gateEvents(r, 'fix-and-fail');
    assert.ok(events.length >= 2, JSON.stringify(events));
    assert.ok(
      events.every((e) => e.exitCode === 1),
      `a run saw the rewrite: ${JSON.stringify(events)}`,
    );
    // What was put back is named and kept.
    const found = putBack(r, /^the gates changed a\.txt in milestone-7: put back to HEAD/);
    assert.ok(found.length >= 2, show(result));
    assert.match(readFileSync(found[0]?.patch as string, 'utf8'), /^\+GOOD$/m);
  } finally {
    r.cleanup();
  }
});

test('an uncommitted edit in the integration worktree, even one marked assume-unchanged, is put back before the gates: they check the tree that lands', async () => {
  const r = await rig({
    gates: { 'post-merge': [{ name: 'not-bad', run: '! grep -q BAD a.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    body: BAD_ITEM,
  });
  try {
    const before = await git(r.repo.dir, 'rev-parse', 'main');
    const steps = await runSteps(r.repo, STEPS_TO_MERGE, 7, true);
    assert.ok(steps.length === STEPS_TO_MERGE.length && steps.every((s) => s.code === 0), steps.map(show).join('\n'));
    // Someone (a process an agent left, a hand) "fixes" the merged file without committing it.
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    writeFileSync(path.join(integration, 'a.txt'), 'GOOD\n');
    // And hides it from git itself: an assume-unchanged file is in no `git status`.
    await git(integration, 'update-index', '--assume-unchanged', 'a.txt');
    assert.is(await git(integration, 'status', '--porcelain'), '', 'the edit is hidden from status');
    const result = await run(r);
    assert.is.not(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), before, 'main moved');
    assert.ok(
      gateEvents(r, 'not-bad').every((e) => e.exitCode === 1),
      JSON.stringify(gateEvents(r, 'not-bad')),
    );
    const found = putBack(r, /^milestone-7 had uncommitted changes to a\.txt: put back to HEAD before the gates/);
    assert.is(found.length, 1, show(result));
    assert.match(readFileSync(found[0]?.patch as string, 'utf8'), /^\+GOOD$/m);
  } finally {
    r.cleanup();
  }
});

test.run();
