/**
 * Red post-merge gates on the integrated milestone (docs/bisection.md), through the real CLI with `command` agents:
 * a red gate is run once more (flaky when green then); still red, a bisection finds the item that turns it red within
 * ⌈log2 n⌉ + 1 gate runs, the fix agent gets that item's diff and the log; when it fails, the item is ejected (its
 * branch kept, a follow-up written), what depends on it goes with it, and the rest lands with exit 3. Two culprits
 * are ejected one after the other; two items that break the gate only together are ejected as a pair; a runner killed
 * in the middle of a bisection reaches the same end when run again. Gates count their runs in a file outside the
 * repository; the kill waits on a file the gate writes, never on time.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import { parse, stringify } from 'yaml';
import * as assert from 'uvu/assert';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';
import { runInProcess, runKilledAt, show, startCli, collect } from './support/cli.ts';
import { waitForFile } from './support/wait.ts';
import { killQuietly } from './support/processes.ts';

const EIGHT = [101, 102, 103, 104, 105, 106, 107, 108].map((issue) => ({ issue, title: `Item ${issue}` }));

/**
 * Items write f-<issue>.txt; fix agents record the gate runs so far and their prompt, change nothing, report FAILED.
 */
const AGENT = `case "$WM_ROLE" in
item) if [ "$WM_ATTEMPT" -gt 1 ]; then cp "$WM_PROMPT_FILE" "$tools/retry-prompt-$WM_ISSUE"; git rm -q "f-$WM_ISSUE.txt"; echo fixed > "g-$WM_ISSUE.txt"; commit "item $WM_ISSUE again"; report COMPLETE; exit 0; fi
  echo "$WM_ISSUE" > "f-$WM_ISSUE.txt"; commit "item $WM_ISSUE"; report COMPLETE;;
fix) n=$(count fix); wc -l < "$tools/gate-runs" > "$tools/runs-at-fix-$n"; cp "$WM_PROMPT_FILE" "$tools/fix-prompt-$n"; report FAILED "cannot";;
esac`;

/** A gate that logs each run (with the folder it ran in) and is red while `red` (a shell test) holds. */
const gate = (tools: string, red: string) => ({
  'post-merge': [
    { name: 'suite', run: `echo "$PWD" >> '${tools}/gate-runs'; if ${red}; then echo "FAIL: broken" >&2; exit 1; fi` },
  ],
});

async function rig(red: (tools: string) => string, items = EIGHT) {
  const r = await makeAgentRig({ title: 'Bisect', items, body: AGENT, defaults: { 'max-fix-attempts': 1 } });
  // The gate needs the folder the agent keeps its counters in: rewrite the plan with it.
  const planFile = path.join(r.repo.dir, 'plan', 'milestone-7-dispatch.yaml');
  const plan = parse(readFileSync(planFile, 'utf8'));
  plan['quality-gates'] = gate(r.tools, red(r.tools));
  writeFileSync(planFile, stringify(plan));
  await git(r.repo.dir, 'commit', '-qam', 'gate');
  return r;
}

const run = (r: AgentRig) => runInProcess('run', ['7', '--repo', r.repo.dir, '--no-push']);
const gateRuns = (r: AgentRig) => readFileSync(path.join(r.tools, 'gate-runs'), 'utf8').split('\n').filter(Boolean);
const mainFiles = async (r: AgentRig) =>
  (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n').filter((f) => /^f-\d+\.txt$/.test(f));
const statuses = (r: AgentRig) =>
  Object.fromEntries(Object.values(readStateFile(r.repo).items).map((i: any) => [i.issue, i.status]));

test('one culprit among 8: found within 4 gate runs, the fix agent gets only its diff and the log, ejected, 7 land, exit 3', async () => {
  const r = await rig(() => 'test -e f-104.txt');
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, /#104 ejected: turns gate "suite" red/);
    // Found with at most ⌈log2 8⌉ + 1 = 4 gate runs after the first red one: the retry and three probes.
    const atFix = Number(readFileSync(path.join(r.tools, 'runs-at-fix-1'), 'utf8').trim());
    assert.ok(atFix - 1 <= 4, `gate runs before the fix agent: ${atFix}`);
    const prompt = readFileSync(path.join(r.tools, 'fix-prompt-1'), 'utf8');
    assert.match(prompt, 'f-104.txt');
    assert.match(prompt, 'item #104');
    assert.match(prompt, 'FAIL: broken');
    for (const other of [101, 102, 103, 105, 106, 107, 108]) assert.not.match(prompt, `f-${other}.txt`);
    // The other seven landed; the culprit did not, its branch is kept.
    assert.equal(
      await mainFiles(r),
      [101, 102, 103, 105, 106, 107, 108].map((i) => `f-${i}.txt`),
    );
    const st = statuses(r);
    assert.is(st[104], 'ejected');
    for (const i of [101, 102, 103, 105, 106, 107, 108]) assert.is(st[i], 'complete', `#${i}`);
    const item = readStateFile(r.repo).items['104'];
    assert.is(item.failureCode, 'gate-culprit');
    assert.ok(item.branch && (await git(r.repo.dir, 'rev-parse', '--verify', `refs/heads/${item.branch}`)));
    assert.not.ok(
      await git(r.repo.dir, 'merge-base', '--is-ancestor', item.branch, 'main').then(
        () => true,
        () => false,
      ),
      "the ejected item's commits are not in main's history",
    );
    // A follow-up backlog item names the gate and its log, and landed with the milestone.
    const ejection = readStateFile(r.repo).ejections[0];
    assert.equal(ejection.issues, [104]);
    assert.type(ejection.followUp, 'number');
    const followUp = readFileSync(path.join(r.repo.dir, 'plan', 'backlog', `${ejection.followUp}.md`), 'utf8');
    assert.match(followUp, 'Make gate suite green with #104');
    assert.match(followUp, ejection.log);
    // The gates ran green on what landed; the report of this run already tells the bisection.
    assert.is(readStateFile(r.repo).gates.results[0].exitCode, 0);
    const first = readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8');
    assert.match(first, /Gate `suite` was red; #104 turns it red: ejected, follow-up #\d+/);
    // Running again works the ejected item again on its branch, told why, and lands it.
    const again = await run(r);
    assert.is(again.code, 0, show(again));
    assert.match(readFileSync(path.join(r.tools, 'retry-prompt-104'), 'utf8'), 'turns gate "suite" red');
    assert.is(statuses(r)[104], 'complete');
    assert.ok((await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n').includes('g-104.txt'));
    // The report tells the bisection: each candidate tip, its items, its verdict.
    const report = readFileSync(path.join(r.repo.stateDir, 'report.md'), 'utf8');
    assert.match(report, '## Bisection');
    assert.match(report, /Gate `suite` was red; #104 turns it red: ejected, follow-up #\d+/);
    for (const p of ejection.probes)
      assert.match(report, `| ${p.sha.slice(0, 10)}${p.mode === 'with-culprit' ? ' + the culprit alone' : ''} |`);
    assert.match(report, '| #101 #102 #103 #104 | red |');
  } finally {
    r.cleanup();
  }
});

test('two independent culprits among 8: both ejected one after the other, 6 land', async () => {
  const r = await rig(() => '(test -e f-102.txt || test -e f-106.txt)');
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    const st = statuses(r);
    assert.is(st[102], 'ejected');
    assert.is(st[106], 'ejected');
    assert.equal(
      await mainFiles(r),
      [101, 103, 104, 105, 107, 108].map((i) => `f-${i}.txt`),
    );
    assert.equal(
      readStateFile(r.repo).ejections.map((e: any) => e.issues),
      [[102], [106]],
    );
  } finally {
    r.cleanup();
  }
});

test('two items fine alone that break the gate together: ejected as a pair, the rest lands', async () => {
  const r = await rig(() => '(test -e f-103.txt && test -e f-106.txt)');
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    const [ejection, ...more] = readStateFile(r.repo).ejections;
    assert.equal(more, []);
    assert.equal(ejection.issues, [103, 106]);
    assert.match(result.stderr, /#103 ejected: together they turn gate "suite" red/);
    assert.equal(
      await mainFiles(r),
      [101, 102, 104, 105, 107, 108].map((i) => `f-${i}.txt`),
    );
  } finally {
    r.cleanup();
  }
});

test('an item that depends on the culprit goes with it; its branch is kept', async () => {
  const items = [...EIGHT.slice(0, 4), { issue: 109, title: 'Item 109' }];
  const r = await makeAgentRig({
    title: 'Bisect',
    items,
    waves: [
      { parallel: false, items: EIGHT.slice(0, 4) },
      { items: [{ issue: 109, title: 'Item 109', dependsOn: [102] }] },
    ],
    body: AGENT,
    defaults: { 'max-fix-attempts': 0 },
    gates: { 'post-merge': [{ name: 'suite', run: '! test -e f-102.txt' }] },
  });
  try {
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    const st = statuses(r);
    assert.is(st[102], 'ejected');
    assert.is(st[109], 'skipped');
    assert.match(readStateFile(r.repo).items['109'].skipReason, 'depends on #102, which was ejected');
    assert.equal(await mainFiles(r), ['f-101.txt', 'f-103.txt', 'f-104.txt']);
    assert.ok(readStateFile(r.repo).items['109'].branch);
  } finally {
    r.cleanup();
  }
});

test('a gate that fails once and passes on the same sha: no bisection, recorded as flaky, lands', async () => {
  const r = await rig((tools) => `[ ! -e '${tools}/flaked' ] && touch '${tools}/flaked'`);
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const state = readStateFile(r.repo);
    assert.equal(state.gates.flaky, ['suite']);
    assert.equal(state.ejections ?? [], []);
    assert.is(gateRuns(r).length, 2);
    assert.not.ok(readEvents(r.repo).some((e) => e.type === 'notice' && /^bisect/.test(e.message)));
    assert.equal((await mainFiles(r)).length, 8);
  } finally {
    r.cleanup();
  }
});

test('the runner killed in the middle of a bisection: run again, it resumes and reaches the same end', async () => {
  const r = await rig(
    (tools) =>
      `case "$PWD" in *-bisect) if [ ! -e '${tools}/go' ]; then touch '${tools}/probing'; i=0; while [ ! -e '${tools}/go' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; fi;; esac; test -e f-105.txt`,
  );
  try {
    const child = startCli('run', ['7', '--repo', r.repo.dir, '--no-push']);
    const done = collect(child, 180_000);
    await waitForFile(path.join(r.tools, 'probing'), 'a bisection probe', 120_000);
    const probesBefore = readStateFile(r.repo).bisection?.probes.length ?? 0;
    killQuietly(child.pid as number, 'SIGKILL');
    await done;
    writeFileSync(path.join(r.tools, 'go'), '');
    const result = await run(r);
    assert.is(result.code, 3, show(result));
    assert.is(statuses(r)[105], 'ejected');
    assert.equal(
      await mainFiles(r),
      [101, 102, 103, 104, 106, 107, 108].map((i) => `f-${i}.txt`),
    );
    // The probes recorded before the kill were not run again.
    const probes = readStateFile(r.repo).ejections[0].probes;
    assert.ok(probes.length >= probesBefore);
    const seen = probes.map((p: any) => `${p.mode}:${p.index}`);
    assert.equal(seen, [...new Set(seen)], 'a probe was run twice');
    const scratch = path.join(r.repo.dir, 'worktrees', 'milestone-7-bisect');
    assert.not.ok(existsSync(scratch) && readdirSync(scratch).length > 0, 'the scratch worktree is removed');
  } finally {
    writeFileSync(path.join(r.tools, 'go'), '');
    r.cleanup();
  }
});

test('a gate red on main already: no fix agent is paid for it; the run stops (exit 1) naming main, the work kept', async () => {
  // Red wherever the tool it needs is missing: on main as on every merge.
  const r = await rig((tools) => `! test -e '${tools}/tool'`, EIGHT.slice(0, 2));
  try {
    const result = await run(r);
    assert.is(result.code, 1, show(result));
    assert.match(
      result.stderr,
      /gate "suite" \(post-merge\) fails on main as the milestone started from it \([0-9a-f]{10}\) too, before any change it is checked for: this milestone did not break it, so no fix agent was started; log: /,
    );
    assert.equal(
      r.agent.calls().filter((c) => c.role === 'fix'),
      [],
      'no fix agent',
    );
    assert.ok(readStateFile(r.repo).items['101'].merge.sha, 'the merged work is kept');
    // The tool installed: the same command lands without another agent.
    writeFileSync(path.join(r.tools, 'tool'), '');
    const again = await run(r);
    assert.is(again.code, 0, show(again));
    assert.equal(await mainFiles(r), ['f-101.txt', 'f-102.txt']);
    assert.is(r.agent.calls().length, 2, 'the items ran once each, nothing else');
  } finally {
    r.cleanup();
  }
});

test('a gate with `files:` red at landing on the very tip it passed on: stops (exit 1) naming that tip, no fix agent', async () => {
  const r = await rig(() => 'false', EIGHT.slice(0, 2));
  try {
    // Green on the milestone, for its files only; red once the tool it needs breaks.
    const planFile = path.join(r.repo.dir, 'plan', 'milestone-7-dispatch.yaml');
    const plan = parse(readFileSync(planFile, 'utf8'));
    plan['quality-gates'] = gate(r.tools, `test -e '${r.tools}/broken'`);
    plan['quality-gates']['post-merge'][0].files = ['f-*.txt'];
    writeFileSync(planFile, stringify(plan));
    await git(r.repo.dir, 'commit', '-qam', 'gate for f-*.txt');
    const args = ['7', '--repo', r.repo.dir, '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'step-start', node: 'land' }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const green = readStateFile(r.repo).gates.sha;
    // main moves (landing merges it and gates again), and the gate's tool breaks meanwhile.
    writeFileSync(path.join(r.repo.dir, 'other.txt'), 'other\n');
    await git(r.repo.dir, 'add', 'other.txt');
    await git(r.repo.dir, 'commit', '-qm', 'other work on main');
    writeFileSync(path.join(r.tools, 'broken'), '');
    const result = await run(r);
    assert.is(result.code, 1, show(result));
    assert.ok(
      result.stderr.includes(`gate "suite" (post-merge) fails on ${green.slice(0, 10)}, where it passed before too`),
      show(result),
    );
    assert.equal(
      r.agent.calls().filter((c) => c.role === 'fix'),
      [],
      'no fix agent',
    );
  } finally {
    r.cleanup();
  }
});

test.run();
