/**
 * What lands is what was judged and gated, whatever the agents the runner starts on the integration branch do there:
 * a fix agent that rewinds the branch is put back (merged items are not lost while reported landed); a gate that
 * commits stops the run (an ungated commit never lands); a conflict agent that changes files outside the conflict is
 * escalated; gates with `files:` see renames and names git would quote. Agents wait on nothing.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import { parse, stringify } from 'yaml';
import * as assert from 'uvu/assert';
import { ITEM_AGENT, makeAgentRig } from './support/agent-rig.ts';
import { git, readEvents, readStateFile, runSteps, STEPS_TO_MERGE } from './support/fixture.ts';
import { runInProcess, runKilledAt, show } from './support/cli.ts';

const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
];

const has = (dir: string, rev: string, file: string): Promise<boolean> =>
  git(dir, 'cat-file', '-e', `${rev}:${file}`).then(
    () => true,
    () => false,
  );

const notices = (r: { repo: Parameters<typeof readEvents>[0] }) =>
  readEvents(r.repo)
    .filter((e) => e.type === 'notice')
    .map((e) => String(e.message));

/** #1 writes a.txt, #2 a bug in b.txt that the gate finds; the fix agent runs the shell `fix`. */
const fixRig = (fix: string) =>
  makeAgentRig({
    title: 'Fix agents',
    items: ITEMS,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo BUG > b.txt; commit beta; report COMPLETE;;
fix:*) ${fix};;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
    defaults: { 'max-fix-attempts': 1 },
  });

test('a fix agent that resets the integration branch to main is put back: the merged item still lands', async () => {
  const r = await fixRig('git reset -q --hard main; report COMPLETE "reverted to main"');
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    // #2 is ejected (exit 3 says so); #1 lands.
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['2'].status, 'ejected');
    assert.is(st.items['1'].status, 'complete');
    assert.ok(await has(r.repo.dir, 'main', 'a.txt'), "#1's work landed");
    assert.not.ok(await has(r.repo.dir, 'main', 'b.txt'));
    assert.ok(
      await git(r.repo.dir, 'merge-base', '--is-ancestor', st.items['1'].merge.sha, 'main').then(
        () => true,
        () => false,
      ),
      "#1's merge is on main",
    );
    assert.ok(
      notices(r).some((m) => /^fix agent, attempt 1: it moved the integration branch to .*put back to/.test(m)),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test('a fix agent that undoes an item with a commit of its own: the item is escalated, not landed nor marked done', async () => {
  const r = await fixRig(
    'git rm -q b.txt; git commit -qm "drop b.txt"; report COMPLETE "removed the file that failed"',
  );
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    // #1 lands; #2's work is gone from what landed, so the run needs attention.
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, /#2 escalated: a fix agent undid its change \(b\.txt\) to make gate "no-bug" green/);
    assert.match(result.stderr, /Items a fix agent undid are not landed/);
    assert.not.ok(await has(r.repo.dir, 'main', 'b.txt'));
    assert.ok(await has(r.repo.dir, 'main', 'a.txt'));
    const st = readStateFile(r.repo);
    assert.is(st.items['2'].status, 'escalated');
    assert.is(st.items['2'].failureCode, 'undone-by-fix');
    assert.is(st.items['2'].merge.sha, null);
    assert.ok(st.items['2'].result.flags.includes('its change was undone by a fix agent before landing'));
    assert.is(st.items['1'].status, 'complete');
    assert.not.ok(
      st.items['1'].result.flags.some((f: string) => f.includes('undone')),
      '#1 kept its change',
    );
    // The backlog says what landed: #1 done, #2 still open; #2's branch is kept for a human.
    assert.match(await git(r.repo.dir, 'show', 'main:plan/backlog/1.md'), /status: done/);
    assert.not.match(await git(r.repo.dir, 'show', 'main:plan/backlog/2.md'), /status: done/);
    assert.ok(st.complete, 'the milestone completed around it');
    assert.ok(
      await git(r.repo.dir, 'rev-parse', '--verify', '-q', `refs/heads/${st.items['2'].branch}`).then(
        () => true,
        () => false,
      ),
      "#2's branch is kept",
    );
    assert.ok(
      notices(r).some((m) => /kept: .*work\/7-2-beta \(its change was undone by a fix agent\)/.test(m)),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test('killed after the fix agent undid an item, before the gates were recorded green: run again still escalates it', async () => {
  const r = await fixRig(
    'git rm -q b.txt; git commit -qm "drop b.txt"; report COMPLETE "removed the file that failed"',
  );
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'gate', name: 'no-bug', exitCode: 0 }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const again = await runInProcess('run', args);
    assert.is(again.code, 3, show(again));
    const st = readStateFile(r.repo);
    assert.is(st.items['2'].status, 'escalated');
    assert.is(st.items['2'].failureCode, 'undone-by-fix');
    assert.match(st.items['2'].failure, /to make gate "no-bug" green/, 'the gate is named after the crash too');
    assert.not.match(await git(r.repo.dir, 'show', 'main:plan/backlog/2.md'), /status: done/);
  } finally {
    r.cleanup();
  }
});

test('an item a later item put back is not blamed on the fix agent', async () => {
  const two = [
    { issue: 1, title: 'Alpha' },
    { issue: 2, title: 'Beta' },
  ];
  const r = await makeAgentRig({
    title: 'Later item',
    items: two,
    waves: [
      { parallel: false, items: [two[0] as (typeof two)[number]] },
      { parallel: false, items: [two[1] as (typeof two)[number]] },
    ],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo on > flag.txt; commit "flag on"; report COMPLETE;;
item:2) echo off > flag.txt; echo BUG > b.txt; commit "flag off, bug"; report COMPLETE;;
fix:*) echo fine > b.txt; git commit -qam "fix b"; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
    defaults: { 'max-fix-attempts': 1 },
    files: { 'flag.txt': 'off\n' },
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'complete');
    assert.is(st.items['2'].status, 'complete');
    assert.match(await git(r.repo.dir, 'show', 'main:plan/backlog/1.md'), /status: done/);
  } finally {
    r.cleanup();
  }
});

test('gates still red, fixed by hand with a new backlog item, run --adopt: nothing outside the fix attempts is put back', async () => {
  const one = [{ issue: 1, title: 'Alpha' }];
  const r = await makeAgentRig({
    title: 'By hand',
    items: one,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > a.txt; commit alpha; report COMPLETE;;
fix:*) report COMPLETE "could not";;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
    defaults: { 'max-fix-attempts': 1 },
  });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const red = await runInProcess('run', args);
    assert.is(red.code, 1, show(red));
    assert.ok(readStateFile(r.repo).fixing, 'the fix attempts are still on record');
    // The user fixes it there, and adds a backlog item of their own while at it.
    const wt = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    writeFileSync(path.join(wt, 'a.txt'), 'fine\n');
    writeFileSync(
      path.join(wt, 'plan', 'backlog', '50.md'),
      readFileSync(path.join(wt, 'plan', 'backlog', '1.md'), 'utf8').replace(/issue: 1/, 'issue: 50'),
    );
    await git(wt, 'add', '-A');
    await git(wt, 'commit', '-qm', 'fix by hand, and a new item');
    const again = await runInProcess('run', [...args, '--adopt']);
    assert.is(again.code, 0, show(again));
    assert.ok(await has(r.repo.dir, 'main', 'plan/backlog/50.md'), 'the new backlog item landed');
    assert.not.ok(
      notices(r).some((m) => m.includes('put back')),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test('a gate that commits on the integration branch while landing re-gates: stopped, nothing ungated lands', async () => {
  // The item's test script commits whenever it runs after main was brought in.
  const script = [
    'case "$(git log -1 --format=%s)" in',
    '"Merge main into"*) echo BUG > bad.txt; git add bad.txt; git commit -qm sneaky;;',
    'esac',
    'exit 0',
  ].join('\n');
  const r = await makeAgentRig({
    title: 'Gate commits',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; cat > tests.sh <<'SH'
${script}
SH
commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt . && sh tests.sh' }] },
    defaults: { 'max-fix-attempts': 0 },
    files: { 'tests.sh': 'exit 0\n' },
  });
  try {
    const steps = await runSteps(r.repo, [...STEPS_TO_MERGE, ['relay', '--wave', '1'], ['gates']], 7, true);
    const last = steps[steps.length - 1];
    assert.ok(steps.length === STEPS_TO_MERGE.length + 2 && last?.code === 0, last && show(last));
    // A teammate's commit on main meanwhile: landing brings it in and gates again.
    await git(r.repo.dir, 'commit', '-q', '--allow-empty', '-m', 'teammate');
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, /^the integration branch moved from \w+ to \w+ while the gates ran .*put back to/m);
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
    const head = await git(`${r.repo.dir}/worktrees/milestone-7`, 'log', '-1', '--format=%s');
    assert.match(head, /^Merge main into/, 'the branch is back where the gates started');
  } finally {
    r.cleanup();
  }
});

/** Two items that conflict in calc.txt (#1 also adds a.txt); the conflict agent of #2 runs the shell `resolve`. */
const conflictRig = (resolve: string) =>
  makeAgentRig({
    title: 'Conflict sneaks',
    items: ITEMS,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf 'v1\\n' > calc.txt; echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) printf 'v2\\n' > calc.txt; commit beta; report COMPLETE;;
conflict:2) printf 'v12\\n' > calc.txt; ${resolve}; report COMPLETE;;
*) exit 9;;
esac`,
    files: { 'calc.txt': 'v0\n' },
  });

for (const [how, resolve, outside] of [
  ['staged', 'git add calc.txt; git rm -q a.txt; echo owned > evil.txt; git add evil.txt', 'a.txt, evil.txt'],
  ['committed by the agent itself', 'git rm -q a.txt; git add calc.txt; git commit -qm resolved', 'a.txt'],
] as const)
  test(`a conflict agent that changes files outside the conflict (${how}) is escalated; the rest lands`, async () => {
    const r = await conflictRig(resolve);
    try {
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 3, show(result));
      const st = readStateFile(r.repo);
      assert.is(st.items['2'].status, 'escalated');
      assert.match(
        st.items['2'].merge.note,
        `the conflict agent changed files outside the conflicted ones (${outside})`,
      );
      assert.ok(await has(r.repo.dir, 'main', 'a.txt'), "#1's file is kept");
      assert.not.ok(await has(r.repo.dir, 'main', 'evil.txt'));
      assert.is(await git(r.repo.dir, 'show', 'main:calc.txt'), 'v1');
    } finally {
      r.cleanup();
    }
  });

test('a conflict agent that commits its resolution, then stages more: only the commit it made is merged', async () => {
  const r = await conflictRig('git add calc.txt; git commit -qm resolved; git rm -q a.txt');
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.is(readStateFile(r.repo).items['2'].status, 'complete');
    assert.ok(await has(r.repo.dir, 'main', 'a.txt'), "#1's file is kept");
    assert.is(await git(r.repo.dir, 'show', 'main:calc.txt'), 'v12');
  } finally {
    r.cleanup();
  }
});

for (const [what, work] of [
  ['renames a file out of src/', 'git mv src/util.txt lib-util.txt'],
  ['adds a file whose name git quotes under src/', 'echo BUG > src/\u00e9.txt'],
] as const)
  test(`an item that ${what}: the gate whose files: name src/** runs`, async () => {
    const r = await makeAgentRig({
      title: 'Files filter',
      items: [{ issue: 1, title: 'Alpha' }],
      body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) ${work}; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
      gates: {
        'post-merge': [{ name: 'src-check', run: 'test -e src/util.txt && ! grep -rq BUG src', files: ['src/**'] }],
      },
      defaults: { 'max-fix-attempts': 0 },
      files: { 'src/util.txt': 'util\n', 'src/main.txt': 'uses util\n' },
    });
    try {
      const main = await git(r.repo.dir, 'rev-parse', 'main');
      const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
      assert.is(result.code, 1, show(result));
      assert.ok(
        readEvents(r.repo).some((e) => e.type === 'gate' && e.name === 'src-check' && e.exitCode !== 0),
        'the gate ran, and is red',
      );
      assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
    } finally {
      r.cleanup();
    }
  });

test("an item that marks another item done in the backlog fails: main's backlog says only what landed", async () => {
  const r = await makeAgentRig({
    title: 'Backlog liar',
    items: ITEMS,
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) grep -q 'plan/backlog/' "$WM_PROMPT_FILE"; sed -i 's/^status: .*/status: done/' plan/backlog/2.md; echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) report FAILED "could not do it";;
*) exit 9;;
esac`,
  });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 3, show(result));
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'failed');
    assert.is(st.items['1'].failureCode, 'guard');
    assert.match(
      st.items['1'].failure,
      /changed the milestone's plan or backlog files, which the runner keeps: plan\/backlog\/2\.md/,
    );
    assert.is(st.items['2'].status, 'failed');
    assert.not.match(await git(r.repo.dir, 'show', 'main:plan/backlog/2.md'), /status: done/);
    assert.not.ok(await has(r.repo.dir, 'main', 'a.txt'));
  } finally {
    r.cleanup();
  }
});

test("a fix agent's edits to the backlog are put back, its fix kept; also when the runner died while it worked", async () => {
  for (const killed of [false, true]) {
    const r = await fixRig(
      'for f in plan/backlog/*.md; do echo "hacked" >> "$f"; done; echo fine > b.txt; git commit -qam "fix and tidy"; report COMPLETE',
    );
    try {
      const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
      if (killed) {
        // Killed as the fix agent starts: the next run re-attaches to it and uses its result.
        const first = await runKilledAt(args, [{ type: 'agent-spawned', role: 'fix' }]);
        assert.is(first.signal, 'SIGKILL', show(first));
      }
      const result = await runInProcess('run', args);
      assert.is(result.code, 0, show(result));
      assert.ok(
        notices(r).some((m) =>
          m.startsWith(
            "a fix agent changed the milestone's plan or backlog files, which the runner keeps (plan/backlog/1.md, plan/backlog/2.md): put back",
          ),
        ),
        notices(r).join('\n'),
      );
      for (const issue of [1, 2]) {
        const text = await git(r.repo.dir, 'show', `main:plan/backlog/${issue}.md`);
        assert.not.match(text, /hacked/, `#${issue} (killed: ${killed})`);
        assert.match(text, /status: done/);
      }
      assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'fine', 'the fix itself landed');
    } finally {
      r.cleanup();
    }
  }
});

test("a backlog item file a fix agent adds is removed again (a follow-up's number is the runner's), its fix kept", async () => {
  const r = await fixRig(
    'printf -- "---\\ntitle: mine\\n---\\n" > plan/backlog/99.md; echo fine > b.txt; git add -A; git commit -qm "fix, and a new item"; report COMPLETE',
  );
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.ok(
      notices(r).some((m) => m.includes('which the runner keeps (plan/backlog/99.md): put back')),
      notices(r).join('\n'),
    );
    assert.not.ok(await has(r.repo.dir, 'main', 'plan/backlog/99.md'), 'the added item file did not land');
    assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'fine', 'the fix itself landed');
  } finally {
    r.cleanup();
  }
});

/** #1 a bug the gate finds; #2 commits part one, then fails its first attempt (its branch holds unjudged work). */
const failedSiblingRig = (fix: string) =>
  makeAgentRig({
    title: 'Fix agents and a failed item',
    items: ITEMS,
    waves: [{ parallel: false, items: ITEMS }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > a.txt; commit alpha; report COMPLETE;;
item:2) if [ "$WM_ATTEMPT" = 1 ]; then echo one > c1.txt; commit "beta part one"; echo "not done" >&2; exit 1; fi
  echo two > c2.txt; commit "beta part two"; report COMPLETE;;
fix:*) ${fix};;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
    defaults: { 'max-fix-attempts': 1 },
  });

test("a fix agent that leaves a MERGE_HEAD naming a failed item's branch: its fix is committed alone; the retry lands whole", async () => {
  const r = await failedSiblingRig(
    'echo fine > a.txt; git rev-parse work/7-2-beta > "$(git rev-parse --git-path MERGE_HEAD)"; report COMPLETE',
  );
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const first = await runInProcess('run', args);
    assert.is(first.code, 3, show(first));
    const partOne = await git(r.repo.dir, 'rev-parse', 'work/7-2-beta');
    assert.not.ok(
      await git(r.repo.dir, 'merge-base', '--is-ancestor', partOne, 'main').then(
        () => true,
        () => false,
      ),
      "the failed item's commit did not join main's history",
    );
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'fine', 'the fix landed');
    const second = await runInProcess('run', args);
    assert.is(second.code, 0, show(second));
    assert.is(await git(r.repo.dir, 'show', 'main:c2.txt'), 'two');
    assert.is(await git(r.repo.dir, 'show', 'main:c1.txt'), 'one', "the retried item's first commit landed too");
  } finally {
    r.cleanup();
  }
});

test("a fix agent that merges a failed item's branch in (-s ours): its work is not used, the branch put back", async () => {
  const r = await failedSiblingRig(
    'echo fine > a.txt; git commit -qam fix; git merge -q -s ours --no-edit work/7-2-beta; report COMPLETE',
  );
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const first = await runInProcess('run', args);
    // Red still: the bisection's culprit #1 is ejected.
    assert.is(first.code, 3, show(first));
    assert.is(readStateFile(r.repo).items['1'].status, 'ejected');
    assert.ok(
      notices(r).some((m) =>
        /^a fix agent brought commits from elsewhere into the integration branch \([0-9a-f]{10}, by a merge\); put back to [0-9a-f]{10}, and its work is not used$/.test(
          m,
        ),
      ),
      notices(r).join('\n'),
    );
    const partOne = await git(r.repo.dir, 'rev-parse', 'work/7-2-beta');
    const integration = readStateFile(r.repo).refs.integration;
    assert.not.ok(
      await git(r.repo.dir, 'merge-base', '--is-ancestor', partOne, integration).then(
        () => true,
        () => false,
      ),
      "the failed item's commit is not in the integration branch",
    );
  } finally {
    r.cleanup();
  }
});

for (const at of ['agent-spawned', 'agent-exited']) {
  test(`killed at the fix agent's ${at}, a failed item retried: the fix is settled before the retry merges; #1 ejected, #2 lands`, async () => {
    const r = await makeAgentRig({
      title: 'Eject after restart',
      items: ITEMS,
      body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo BUG > a.txt; commit alpha; report COMPLETE;;
item:2) if [ "$WM_ATTEMPT" = 1 ]; then echo "not done" >&2; exit 1; fi; echo beta > b.txt; commit beta; report COMPLETE;;
fix:*) echo tidy > fix-notes.txt; report FAILED "cannot";;
*) exit 9;;
esac`,
      gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -rq BUG --include=*.txt .' }] },
      defaults: { 'max-fix-attempts': 1 },
    });
    try {
      const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
      const killed = await runKilledAt(args, [{ type: at, role: 'fix' }]);
      assert.is(killed.signal, 'SIGKILL', show(killed));
      const again = await runInProcess('run', args);
      assert.is(again.code, 3, show(again));
      const st = readStateFile(r.repo);
      assert.is(st.items['1'].status, 'ejected', show(again));
      assert.is(st.items['2'].status, 'complete', "the retry is not blamed for the fix agent's file");
      assert.is(await git(r.repo.dir, 'show', 'main:b.txt'), 'beta');
    } finally {
      r.cleanup();
    }
  });
}

test('an item regroomed out of the plan after its merge: refused before landing (exit 2), nothing changed', async () => {
  const r = await makeAgentRig({ title: 'Regroom', items: ITEMS, body: ITEM_AGENT });
  try {
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const killed = await runKilledAt(args, [{ type: 'step-done', node: 'merge@1' }]);
    assert.is(killed.signal, 'SIGKILL', show(killed));
    const planFile = path.join(r.repo.dir, 'plan', 'milestone-7-dispatch.yaml');
    const plan = parse(readFileSync(planFile, 'utf8'));
    plan.waves[0].items = plan.waves[0].items.filter((i: { issue: number }) => i.issue !== 2);
    writeFileSync(planFile, stringify(plan));
    await git(r.repo.dir, 'commit', '-qam', 'regroom: #2 moves to milestone 8');
    const refs = await git(r.repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)');
    const again = await runInProcess('run', args);
    assert.is(again.code, 2, show(again));
    assert.is(
      again.stderr.trim().split('\n').at(-1),
      '#2 is merged into milestone/7-regroom but no longer in plan/milestone-7-dispatch.yaml: landing would bring ' +
        'its work to main while the report and the backlog say nothing of it; put it back in the plan, or start the ' +
        'milestone over with `npx zx scripts/reset.mts 7`',
    );
    assert.is(await git(r.repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)'), refs, 'no ref changed');
    assert.not.ok(await has(r.repo.dir, 'main', 'b.txt'));
    // Step by step, past validate: land refuses it the same.
    for (const step of ['relay', 'gates']) assert.is((await runInProcess('step', [step, ...args])).code, 0, step);
    const land = await runInProcess('step', ['land', ...args]);
    assert.is(land.code, 2, show(land));
    assert.match(
      land.stderr,
      /#2 is merged into milestone\/7-regroom but no longer in plan\/milestone-7-dispatch\.yaml/,
    );
    assert.not.ok(await has(r.repo.dir, 'main', 'b.txt'));
  } finally {
    r.cleanup();
  }
});

test('a backlog groomed on a branch of its own, not on main: refused before any agent, nothing changed (exit 2)', async () => {
  const r = await makeAgentRig({ title: 'Groomed elsewhere', items: ITEMS, body: ITEM_AGENT });
  try {
    await git(r.repo.dir, 'checkout', '-q', '-b', 'groom');
    await git(r.repo.dir, 'checkout', '-q', 'main');
    await git(r.repo.dir, 'rm', '-rq', 'plan/backlog');
    await git(r.repo.dir, 'commit', '-qm', 'main without the backlog');
    await git(r.repo.dir, 'checkout', '-q', 'groom');
    const branches = await git(r.repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 2, show(result));
    assert.is(
      result.stderr.trim(),
      'plan/backlog/1.md, plan/backlog/2.md are not on main, where the milestone is built and landing marks its ' +
        'items done (your checkout is on groom); commit the plan and its backlog to main first, then run again',
    );
    assert.equal(r.agent.calls(), [], 'no agent ran');
    assert.is(await git(r.repo.dir, 'for-each-ref', '--format=%(refname) %(objectname)'), branches, 'no ref changed');
  } finally {
    r.cleanup();
  }
});

test('a checkout on another branch whose backlog (named ./plan/backlog) is on main too: runs', async () => {
  const r = await makeAgentRig({ title: 'Groomed here', items: ITEMS, body: ITEM_AGENT });
  try {
    const planFile = path.join(r.repo.dir, 'plan', 'milestone-7-dispatch.yaml');
    writeFileSync(planFile, `${readFileSync(planFile, 'utf8')}backlog: {kind: file, dir: ./plan/backlog/}\n`);
    await git(r.repo.dir, 'commit', '-qam', 'backlog named with ./');
    await git(r.repo.dir, 'checkout', '-q', '-b', 'groom');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
  } finally {
    r.cleanup();
  }
});

test('main checked out with uncommitted changes in another worktree of the user: refused before any agent (exit 2)', async () => {
  const r = await makeAgentRig({ title: 'Main elsewhere', items: ITEMS, body: ITEM_AGENT });
  const other = `${r.repo.dir}-main`;
  try {
    await git(r.repo.dir, 'switch', '-q', '-c', 'topic');
    await git(r.repo.dir, 'worktree', 'add', '-q', other, 'main');
    writeFileSync(path.join(other, 'README.md'), 'edited, not committed\n');
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 2, show(result));
    assert.is(
      result.stderr.trim(),
      `${other} has main checked out with uncommitted changes (README.md); landing moves main there, so commit or ` +
        'stash them first, then run again',
    );
    assert.equal(r.agent.calls(), [], 'no agent ran');
    // Clean there, the same command lands and moves that checkout's main.
    await git(other, 'checkout', '-q', '--', 'README.md');
    const again = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(again.code, 0, show(again));
    assert.ok(await has(other, 'HEAD', 'a.txt'), "the other checkout's main moved with the landing");
  } finally {
    rmSync(other, { recursive: true, force: true });
    r.cleanup();
  }
});

test.run();
