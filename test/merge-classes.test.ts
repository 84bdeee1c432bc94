/**
 * The merge queue's conflict classes (docs/steps.md, "Merging") through the real CLI: two or three items of one serial
 * wave whose `command` agents make diverging commits, merged into integration, landed on a bare origin.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import {
  git,
  makeRepo,
  parentsOf,
  readEvents,
  readStateFile,
  runCli,
  runSteps,
  STEPS_TO_MERGE,
  tempDir,
  writeAgent,
} from './support/fixture.ts';
import { runInProcess, runKilledAt } from './support/cli.ts';
import {
  assertEscalated,
  assertMerged,
  assertNoMarkers,
  CALC,
  CALC_ITEMS,
  ITEMS,
  mainFile,
  output,
  planOf,
  scenario,
} from './support/merge-rig.ts';

test('clean: different files merge with --no-ff, no conflict', async () => {
  const s = await scenario(`case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`);
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 1, 'clean');
    await assertMerged(s, 2, 'clean');
    assert.is(s.state.items['2'].merge.note, '');
    assert.is(await mainFile(s, 'a.txt'), 'alpha\n');
    assert.is(await mainFile(s, 'b.txt'), 'beta\n');
    assert.equal(
      s.agent.calls().map((c) => c.role),
      ['item', 'item'],
    );
  } finally {
    s.cleanup();
  }
});

test('whitespace-only: the same line re-indented on one side, trailing spaces on the other → trivial, merged ignoring whitespace', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf 'function f() {\\n    return 1;\\n}\\n' > ws.js; commit indent; report COMPLETE;;
item:2) printf 'function f() {\\n  return 1;   \\n}\\n' > ws.js; commit trailing; report COMPLETE;;
*) exit 9;;
esac`,
    { 'ws.js': 'function f() {\n  return 1;\n}\n' },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'trivial');
    const m = s.state.items['2'].merge;
    assert.equal(m.files, ['ws.js']);
    assert.match(m.note, /whitespace-only conflict in ws\.js/);
    const text = await mainFile(s, 'ws.js');
    assertNoMarkers(text);
    // git 2.39 takes one side's line when both only changed whitespace (theirs, despite its docs): either is a correct
    // merge.
    assert.ok(
      ['function f() {\n    return 1;\n}\n', 'function f() {\n  return 1;   \n}\n'].includes(text),
      JSON.stringify(text),
    );
    assert.not.ok(
      s.agent.calls().some((c) => c.role === 'conflict'),
      'no conflict agent for whitespace',
    );
  } finally {
    s.cleanup();
  }
});

test('adjacent additions: both add different lines at the same place → union, ours first, no markers', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf 'alpha line\\n' >> list.txt; commit alpha; report COMPLETE;;
item:2) printf 'beta line\\n' >> list.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
    // Leading indentation and a trailing blank line must survive the union.
    { 'list.txt': '    indented first\nsecond\n' },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'trivial');
    const m = s.state.items['2'].merge;
    assert.equal(m.files, ['list.txt']);
    assert.match(m.note, /only added lines in list\.txt/);
    const text = await mainFile(s, 'list.txt');
    assertNoMarkers(text);
    assert.is(text, '    indented first\nsecond\nalpha line\nbeta line\n');
    assert.not.ok(s.agent.calls().some((c) => c.role === 'conflict'));
  } finally {
    s.cleanup();
  }
});

test('medium: the same function changed differently → conflict agent (role conflict) resolves it in the integration worktree', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
conflict:2) cp "$WM_PROMPT_FILE" "$tools/conflict-prompt.md"; echo "$WM_WORKTREE" > "$tools/conflict-worktree";
  grep -q '^<<<<<<<' calc.js
  printf 'function total(a, b) {\\n  return (a + b) * 2 + 1;\\n}\\n' > calc.js; git add calc.js; report COMPLETE "kept both";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
  );
  try {
    assert.is(s.result.code, 0, output(s.result));
    await assertMerged(s, 2, 'medium');
    const m = s.state.items['2'].merge;
    assert.equal(m.files, ['calc.js']);
    assert.match(m.note, /resolved by the conflict-resolution agent/);
    assert.is(await mainFile(s, 'calc.js'), 'function total(a, b) {\n  return (a + b) * 2 + 1;\n}\n');
    const conflict = s.agent.calls().filter((c) => c.role === 'conflict');
    assert.is(conflict.length, 1);
    const integration = path.join(s.repo.dir, 'worktrees', 'milestone-7');
    assert.is(conflict[0]?.cwd, integration);
    assert.is(readFileSync(path.join(s.tools, 'conflict-worktree'), 'utf8').trim(), integration);
    const prompt = readFileSync(path.join(s.tools, 'conflict-prompt.md'), 'utf8');
    assert.ok(prompt.includes('a + b + 1') && prompt.includes('(a + b) * 2'), 'the prompt carries both diffs');
    assert.ok(prompt.includes('adds one') && prompt.includes('doubles'), 'the prompt carries both reports');
  } finally {
    s.cleanup();
  }
});

test('medium: a conflict agent that leaves markers → escalated, the merge aborted, the rest lands', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) report COMPLETE "looked at it";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /left conflict markers in calc\.js/);
    assert.is(s.agent.calls().filter((c) => c.role === 'conflict').length, 1);
    assert.is(await mainFile(s, 'calc.js'), 'function total(a, b) {\n  return a + b + 1;\n}\n', 'main has Alpha only');
  } finally {
    s.cleanup();
  }
});

test('medium: a conflict agent that leaves a named pipe where the file was → escalated, never blocked on it', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) rm calc.js && mkfifo calc.js; report COMPLETE "piped";;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /left calc\.js as something git cannot stage \(not a file\)/);
    assert.is(await mainFile(s, 'g.txt'), 'gamma\n', 'the rest landed');
  } finally {
    s.cleanup();
  }
});

test('medium: a conflict agent killed mid-commit leaves index.lock → removed with a notice, escalated, the rest lands', async () => {
  // What a SIGKILL in the middle of its `git add` leaves: the lock, and no git process to hold it.
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
${CALC_ITEMS}
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
conflict:2) touch "$(git rev-parse --git-dir)/index.lock"; exit 1;;
*) exit 9;;
esac`,
    { 'calc.js': CALC },
    3,
  );
  try {
    await assertEscalated(s, 'medium', ['calc.js'], /the conflict agent failed/);
    const notices = readEvents(s.repo).filter((e) => e.type === 'notice' && /index\.lock/.test(e.message));
    assert.is(notices.length, 1, JSON.stringify(notices));
    assert.match(
      notices[0].message,
      /^removed \S+\/worktrees\/milestone-7\/index\.lock: left by a git process that was killed/,
    );
  } finally {
    s.cleanup();
  }
});

test('heavy: a file deleted on one side and changed on the other → escalated without a merge', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) git rm -q old.txt; commit remove; report COMPLETE;;
item:2) echo changed >> old.txt; commit change; report COMPLETE;;
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
*) exit 9;;
esac`,
    { 'old.txt': 'keep me\n' },
    3,
  );
  try {
    await assertEscalated(s, 'heavy', ['old.txt'], /old\.txt was deleted or renamed on one side/);
    assert.not.ok(
      s.agent.calls().some((c) => c.role === 'conflict'),
      'no agent for a heavy conflict',
    );
  } finally {
    s.cleanup();
  }
});

test('heavy: three files in conflict → escalated without a merge', async () => {
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) for f in f1 f2 f3; do echo alpha > $f.txt; done; commit alpha; report COMPLETE;;
item:2) for f in f1 f2 f3; do echo beta > $f.txt; done; commit beta; report COMPLETE;;
item:3) echo gamma > g.txt; commit gamma; report COMPLETE;;
*) exit 9;;
esac`,
    { 'f1.txt': 'base\n', 'f2.txt': 'base\n', 'f3.txt': 'base\n' },
    3,
  );
  try {
    await assertEscalated(s, 'heavy', ['f1.txt', 'f2.txt', 'f3.txt'], /3 files in conflict/);
    assert.is(await mainFile(s, 'f2.txt'), 'alpha\n');
  } finally {
    s.cleanup();
  }
});

test('heavy: 60 files in conflict → escalated; state, the follow-up item and the output name a bounded part', async () => {
  const names = Array.from(
    { length: 60 },
    (_, i) => `conflicting-file-with-a-long-name-${String(i).padStart(3, '0')}.txt`,
  );
  const s = await scenario(
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) for f in conflicting-file-*.txt; do echo alpha > $f; done; commit alpha; report COMPLETE;;
item:2) for f in conflicting-file-*.txt; do echo beta > $f; done; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
    Object.fromEntries(names.map((n) => [n, 'base\n'])),
  );
  try {
    assert.is(s.result.code, 3, output(s.result));
    const merge = s.state.items['2'].merge;
    assert.match(merge.note, /heavy conflict: 60 files in conflict/);
    assert.ok(merge.files.length <= 21, `${merge.files.length} entries kept`);
    assert.match(
      merge.files.at(-1),
      /^… \(\d+ more; git merge-tree --write-tree --name-only milestone\/7-\S+ [0-9a-f]{40}\)$/,
    );
    const followUp = await mainFile(s, `plan/backlog/${merge.followUp}.md`);
    assert.ok(followUp.length < 4000, `follow-up of ${followUp.length} characters`);
    assert.ok(!followUp.includes(names[59] as string), 'not every file is listed');
    assert.ok(output(s.result).length < 20_000, 'the output names a few of them');
  } finally {
    s.cleanup();
  }
});

test('PARTIAL: merged, one follow-up "Finish #1: Alpha", even when the merge step runs again or converges after a crash', async () => {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(
    tools,
    `echo half > half.txt; commit half
printf 'STATUS: PARTIAL\\nBRANCH: %s\\nTASKS_BLOCKED: T2, T3\\nNOTES: the second half is left\\n' "$WM_BRANCH"`,
  );
  const repo = await makeRepo({ plan: planOf(agent.command, 1), items: ITEMS.slice(0, 1), origin: true });
  try {
    const steps = await runSteps(repo, STEPS_TO_MERGE);
    assert.ok(
      steps.every((r) => r.code === 0),
      steps.map(output).join('\n'),
    );
    let st = readStateFile(repo).items['1'];
    assert.is(st.status, 'partial');
    assert.is(st.merge.kind, 'clean');
    assert.equal(st.followUps, [2]);
    const integration = path.join(repo.dir, 'worktrees', 'milestone-7');
    const head = await git(integration, 'rev-parse', 'HEAD');
    assert.is(await git(integration, 'log', '-1', '--format=%s'), 'backlog: add #2 Finish #1: Alpha');
    assert.is(await git(integration, 'rev-parse', 'HEAD^'), st.merge.sha);

    // Again: nothing to do.
    const again = await runCli('step', ['merge', '7', '--repo', repo.dir, '--wave', '1']);
    assert.is(again.code, 0, output(again));
    assert.is(await git(integration, 'rev-parse', 'HEAD'), head);

    // A crash after the merge and the follow-up were committed but before state recorded them: converge, no duplicate.
    const file = path.join(repo.stateDir, 'state.json');
    const raw = JSON.parse(readFileSync(file, 'utf8'));
    Object.assign(raw.items['1'], { merge: null, followUps: [] });
    writeFileSync(file, JSON.stringify(raw, null, 2));
    const converge = await runCli('step', ['merge', '7', '--repo', repo.dir, '--wave', '1']);
    assert.is(converge.code, 0, output(converge));
    st = readStateFile(repo).items['1'];
    assert.is(st.merge.sha, (await parentsOf(repo.dir, head))[0]);
    assert.equal(st.followUps, [2]);
    assert.is(await git(integration, 'rev-parse', 'HEAD'), head, 'no new commit');

    // A crash after the merge was recorded but before the follow-up was: the next merge step records it (found, not
    // made again).
    const raw2 = JSON.parse(readFileSync(file, 'utf8'));
    raw2.items['1'].followUps = [];
    writeFileSync(file, JSON.stringify(raw2, null, 2));
    const converge2 = await runCli('step', ['merge', '7', '--repo', repo.dir, '--wave', '1']);
    assert.is(converge2.code, 0, output(converge2));
    assert.equal(readStateFile(repo).items['1'].followUps, [2]);
    assert.is(await git(integration, 'rev-parse', 'HEAD'), head, 'no new commit');

    const run = await runCli('run', ['7', '--repo', repo.dir]);
    assert.is(run.code, 0, output(run));
    const backlog = (await git(repo.origin as string, 'ls-tree', '--name-only', 'main', 'plan/backlog/')).split('\n');
    assert.equal(backlog, ['plan/backlog/1.md', 'plan/backlog/2.md']);
    const text = await git(repo.origin as string, 'show', 'main:plan/backlog/2.md');
    const front = parseYaml(text.split('---\n')[1] ?? '');
    assert.is(front.title, 'Finish #1: Alpha');
    assert.is(front.status, 'open');
    assert.equal(front['depends-on'], [1]);
    assert.equal(front.labels, ['follow-up']);
    assert.ok(text.includes('T2') && text.includes('T3') && text.includes('the second half is left'), text);
    assert.match(await git(repo.origin as string, 'show', 'main:plan/backlog/1.md'), /status: done/);
    assert.is(await git(repo.origin as string, 'show', 'main:half.txt'), 'half');
    assert.match(readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8'), /#2 \(from #1\)/);
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

/** #1 and #2 of one serial wave both rewrite f1–f3: a heavy conflict escalates #2. Not yet run. */
async function heavyConflictRepo() {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(
    tools,
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) for f in f1 f2 f3; do echo alpha > $f.txt; done; commit alpha; report COMPLETE;;
item:2) for f in f1 f2 f3; do echo beta > $f.txt; done; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
  );
  const files = { 'f1.txt': 'base\n', 'f2.txt': 'base\n', 'f3.txt': 'base\n' };
  const repo = await makeRepo({ plan: planOf(agent.command, 2), items: ITEMS.slice(0, 2), files, origin: true });
  return {
    repo,
    cleanup: () => {
      repo.cleanup();
      rmSync(tools, { recursive: true, force: true });
    },
  };
}

test('killed after an escalation, before the run ended: a step run next tells it (exit 3), and run then does not', async () => {
  const { repo, cleanup } = await heavyConflictRepo();
  try {
    const args = ['7', '--repo', repo.dir, '--yes'];
    const killed = await runKilledAt(args, [{ type: 'step-done', node: 'land' }]);
    assert.is(killed.signal, 'SIGKILL', output(killed));
    const step = await runInProcess('step', ['complete', ...args]);
    assert.is(step.code, 3, output(step));
    assert.match(step.stderr, /#2 escalated: heavy conflict: 3 files in conflict/);
    const again = await runInProcess('run', args);
    assert.is(again.code, 0, `told once: ${output(again)}`);
  } finally {
    cleanup();
  }
});

test('killed after an escalation, before the run ended: run again still exits 3 naming it, once', async () => {
  const { repo, cleanup } = await heavyConflictRepo();
  try {
    const args = ['7', '--repo', repo.dir, '--yes'];
    const killed = await runKilledAt(args, [{ type: 'step-start', node: 'land' }]);
    assert.is(killed.signal, 'SIGKILL', output(killed));
    const again = await runInProcess('run', args);
    assert.is(again.code, 3, output(again));
    assert.match(again.stderr, /#2 escalated: heavy conflict: 3 files in conflict/, output(again));
    assert.ok(readStateFile(repo).complete, output(again));
    const third = await runInProcess('run', args);
    assert.is(third.code, 0, `reported once: ${output(third)}`);
  } finally {
    cleanup();
  }
});
test.run();
