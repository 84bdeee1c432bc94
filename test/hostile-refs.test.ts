/**
 * Hostile item agents against the refs guard (pinned shas, integration / main / origin's main watched), through the
 * real CLI: each agent does honest work on its own branch and one bad thing — force-pushes origin's main, commits on
 * or deletes the integration branch, commits on main from its worktree, or leaves a detached grandchild that moves its
 * branch after it was judged. What must happen: exit 3 with a message saying what moved and how to go on, nothing of
 * the milestone on main or origin; or the run goes on with what was judged and says what it ignored.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  git,
  gitOk,
  makeRepo,
  readEvents,
  readStateFile,
  tempDir,
  writeAgent,
  type AgentScript,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';
import { waitForFile } from './support/wait.ts';
import { commandDefaults, planYaml } from './support/plan.ts';

const INTEGRATION = 'milestone/7-hostile-refs';

interface Rig {
  readonly repo: TestRepo;
  readonly agent: AgentScript;
  readonly tools: string;
  /** main's sha (= origin's main) before anything ran. */
  readonly initial: string;
  cleanup(): void;
}

/** A one-wave milestone with items Alpha (#1) and, with `count: 2`, Beta (#2), in parallel; `body` is the agent. */
async function rig(body: (tools: string) => string, count = 1): Promise<Rig> {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(tools, body(tools));
  const items = [
    { issue: 1, title: 'Alpha' },
    { issue: 2, title: 'Beta' },
  ].slice(0, count);
  const plan = planYaml({
    title: 'Hostile refs',
    waves: [{ parallel: true, items }],
    defaults: commandDefaults(agent.command, { timeout: '60s', concurrency: 2 }),
  });
  const repo = await makeRepo({ plan, items, origin: true });
  const initial = await git(repo.dir, 'rev-parse', 'main');
  return {
    repo,
    agent,
    tools,
    initial,
    cleanup: () => {
      repo.cleanup();
      rmSync(tools, { recursive: true, force: true });
    },
  };
}

// In this process: what is tested is what the runner does with hostile refs, not the scripts' processes.
const run = (r: Rig, ...flags: string[]) => runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', ...flags]);
const step = (r: Rig, name: string, ...flags: string[]) =>
  runInProcess('step', [name, '7', '--repo', r.repo.dir, '--yes', ...flags]);
const originGit = (r: Rig, ...args: string[]) => git(r.repo.origin as string, ...args);
const filesOn = async (dir: string, rev: string) =>
  (await git(dir, 'ls-tree', '-r', '--name-only', rev)).split('\n').filter(Boolean);
const subjectsOn = async (dir: string, rev: string) => (await git(dir, 'log', '--format=%s', rev)).split('\n');
const notices = (r: Rig) =>
  readEvents(r.repo)
    .filter((e) => e.type === 'notice')
    .map((e) => String(e.message));
const allOutput = (r: CliResult) => `${r.stdout}\n${r.stderr}`;

/** Origin holds only main, at `sha`: nothing of the milestone was pushed. */
async function originOnlyMainAt(r: Rig, sha: string): Promise<void> {
  assert.is(await originGit(r, 'rev-parse', 'main'), sha, "origin's main");
  assert.equal(await originGit(r, 'for-each-ref', '--format=%(refname)'), 'refs/heads/main', 'origin got other refs');
}

const HONEST = 'echo alpha > a.txt; commit alpha';

test("agent force-pushes origin's main: exit 3 (force-pushed), nothing landed, origin left as the agent made it", async () => {
  const r = await rig(
    (tools) => `${HONEST}
new=$(git commit-tree -m hostile "$(git mktree </dev/null)")
# A plain push is refused to agents (see below); this one sets out to get past that.
GIT_CONFIG_COUNT=0 git push -q --force origin "$new:refs/heads/main" >/dev/null 2>&1
echo "$new" > '${tools}/forced'
report COMPLETE "pushed"`,
  );
  try {
    const result = await run(r);
    const forced = existsSync(path.join(r.tools, 'forced'))
      ? readFileSync(path.join(r.tools, 'forced'), 'utf8').trim()
      : '';
    assert.is(result.code, 3, show(result));
    assert.match(allOutput(result), "origin's main moved from");
    assert.match(allOutput(result), 'force-pushed');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), r.initial, 'local main moved');
    assert.is(forced.length, 40, 'the agent recorded its forced sha');
    await originOnlyMainAt(r, forced);
    assert.not.ok((await subjectsOn(r.repo.origin as string, 'main')).some((s) => /Merge|alpha/.test(s)));
  } finally {
    r.cleanup();
  }
});

test("an agent's plain git push is refused (origin untouched, fetch still works); the item is judged as usual and lands", async () => {
  const r = await rig(
    (tools) => `${HONEST}
git fetch -q origin && echo fetched > '${tools}/fetch'
git push -q origin "HEAD:refs/heads/main" 2> '${tools}/push-main.err' && echo 0 > '${tools}/push-main' || echo $? > '${tools}/push-main'
git push -q -u origin HEAD 2> '${tools}/push-branch.err' && echo 0 > '${tools}/push-branch' || echo $? > '${tools}/push-branch'
report COMPLETE "tried to push"`,
  );
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const tool = (name: string) => readFileSync(path.join(r.tools, name), 'utf8').trim();
    assert.is(tool('fetch'), 'fetched');
    assert.not.equal(tool('push-main'), '0', 'the push to main went through');
    assert.not.equal(tool('push-branch'), '0', 'the push of the item branch went through');
    assert.match(tool('push-main.err'), 'work-milestone-agents-do-not-push');
    // Origin holds main only, and main is what the runner landed.
    await originOnlyMainAt(r, await git(r.repo.dir, 'rev-parse', 'main'));
    assert.ok(await filesOn(r.repo.origin as string, 'main').then((f) => f.includes('a.txt')), 'not landed');
  } finally {
    r.cleanup();
  }
});

/** An agent that commits `sneaky` on the integration branch (through its worktree) on its first call only. */
const SNEAKY = `${HONEST}
if [ "$(count sneak)" = 1 ]; then
  echo sneaky > "$WM_WORKTREE/../milestone-7/sneaky.txt"
  git -C "$WM_WORKTREE/../milestone-7" add sneaky.txt
  git -C "$WM_WORKTREE/../milestone-7" commit -qm sneaky
fi
report COMPLETE "done"`;

/** Run until the integration-moved stop and check it; returns the recorded sha the message names. */
async function stopsOnSneaky(r: Rig): Promise<string> {
  const result = await run(r);
  const text = allOutput(result);
  assert.is(result.code, 3, show(result));
  assert.match(text, 'moved from');
  assert.match(text, 'the runner did not move it');
  assert.match(text, INTEGRATION);
  assert.match(text, '--adopt');
  assert.is(await git(r.repo.dir, 'rev-parse', 'main'), r.initial, 'main moved');
  await originOnlyMainAt(r, r.initial);
  const old = /reset --hard ([0-9a-f]{40})/.exec(text);
  assert.ok(old, `no reset --hard <sha> advice in: ${text}`);
  return (old as RegExpExecArray)[1] as string;
}

test('agent commits on the integration branch: exit 3 naming the branch; reset as advised → lands without the sneaky commit', async () => {
  const r = await rig(() => SNEAKY);
  try {
    const old = await stopsOnSneaky(r);
    const wt = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    assert.is(
      await git(wt, 'log', '-1', '--format=%s', INTEGRATION),
      'sneaky',
      'the sneaky commit is the integration tip',
    );
    await git(wt, 'reset', '-q', '--hard', old);
    const again = await run(r);
    assert.is(again.code, 0, show(again));
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    assert.ok((await filesOn(r.repo.dir, 'main')).includes('a.txt'), 'a.txt is not on main');
    assert.not.ok((await filesOn(r.repo.dir, 'main')).includes('sneaky.txt'), 'sneaky.txt landed');
    assert.not.ok((await subjectsOn(r.repo.dir, 'main')).includes('sneaky'), 'the sneaky commit landed');
    assert.is(await originGit(r, 'rev-parse', 'main'), main, 'origin has what landed');
  } finally {
    r.cleanup();
  }
});

test('agent commits on the integration branch: run --adopt takes it (after the gates) → lands with the sneaky commit', async () => {
  const r = await rig(() => SNEAKY);
  try {
    await stopsOnSneaky(r);
    const again = await run(r, '--adopt');
    assert.is(again.code, 0, show(again));
    assert.ok((await filesOn(r.repo.dir, 'main')).includes('a.txt'), 'a.txt is not on main');
    assert.ok((await subjectsOn(r.repo.dir, 'main')).includes('sneaky'), 'the adopted commit did not land');
    assert.ok(
      notices(r).some((m) => m.includes('--adopt: taking')),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test('agent deletes the integration branch: recreated at its recorded tip (notice), the milestone lands', async () => {
  const r = await rig(
    () => `${HONEST}
b=$(git -C "$WM_WORKTREE/../milestone-7" symbolic-ref --short HEAD)
git update-ref -d "refs/heads/$b"
report COMPLETE "deleted $b"`,
  );
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.ok(r.agent.calls().length === 1);
    assert.ok((await filesOn(r.repo.dir, 'main')).includes('a.txt'), 'a.txt is not on main');
    assert.is(await originGit(r, 'rev-parse', 'main'), await git(r.repo.dir, 'rev-parse', 'main'));
    assert.ok(
      notices(r).some((m) => m.includes('recreated at its recorded tip')),
      notices(r).join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test("agent writes garbage into the integration branch's ref file: kept aside, recreated at its recorded tip, lands", async () => {
  const r = await rig(
    () => `${HONEST}
b=$(git -C "$WM_WORKTREE/../milestone-7" symbolic-ref --short HEAD)
echo garbage > "$(git rev-parse --path-format=absolute --git-common-dir)/refs/heads/$b"
report COMPLETE "broke $b"`,
  );
  try {
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.ok((await filesOn(r.repo.dir, 'main')).includes('a.txt'), 'a.txt is not on main');
    const notice = notices(r).find((m) => m.startsWith(`${INTEGRATION} was no ref git can read`));
    assert.ok(notice, notices(r).join('\n'));
    const kept = /kept as (\S+)\)/.exec(notice ?? '')?.[1] ?? '';
    assert.is(readFileSync(kept, 'utf8'), 'garbage\n', 'what was in the file is kept');
  } finally {
    r.cleanup();
  }
});

test('agent checks out main in its worktree and commits there: item failed, landing stops (nobody vouched for), origin untouched', async () => {
  const r = await rig(
    () => `case "$WM_ISSUE" in
1) ${HONEST}
   git switch -q --ignore-other-worktrees main
   echo x > evil.txt; git add evil.txt; git commit -qm evil
   report COMPLETE "evil";;
2) echo beta > b.txt; commit beta; report COMPLETE "honest";;
esac`,
    2,
  );
  try {
    const result = await run(r);
    const text = allOutput(result);
    const state = readStateFile(r.repo);
    const hostile = state.items['1'];
    assert.is(hostile.status, 'failed', JSON.stringify(hostile));
    assert.match(String(hostile.failure), 'checked out main in its worktree');
    assert.is(state.items['2'].status, 'complete', JSON.stringify(state.items['2']));
    assert.is(result.code, 3, show(result));
    assert.match(text, 'nobody vouched for');
    const evil = await git(r.repo.dir, 'log', '-1', '--format=%H', '--grep=^evil$', 'main');
    assert.ok(evil.length === 40, 'the evil commit is on local main');
    assert.match(text, `${r.initial.slice(0, 10)}..${evil.slice(0, 10)}`);
    assert.not.ok((await subjectsOn(r.repo.origin as string, 'main')).includes('evil'), 'evil reached origin');
    assert.not.ok((await filesOn(r.repo.origin as string, 'main')).includes('evil.txt'), 'evil.txt reached origin');
    await originOnlyMainAt(r, r.initial);
    const wt = path.join(r.repo.dir, 'worktrees', '7-1-alpha');
    const head = await git(wt, 'symbolic-ref', '-q', 'HEAD').catch(() => '(detached)');
    assert.is.not(head, 'refs/heads/main', 'the hostile worktree still has main checked out');
  } finally {
    r.cleanup();
  }
});

/**
 * An agent that commits a.txt, then leaves a detached grandchild (own session) that waits for `<tools>/go` and runs
 * `late` in the item worktree, then touches `<tools>/done`. The agent ends only once the grandchild is in its own
 * session (`<tools>/escaped`): before that it is still in the agent's group, which the runner kills when the agent
 * ends, and the test is about one that got away. It also drops `WM_PID` from its environment, which is how the runner
 * finds and stops what an agent left running outside its group: one that cleared it is out of the runner's reach.
 */
function lateAgent(late: (tools: string) => string): (tools: string) => string {
  return (tools) => `${HONEST}
base=$(git rev-parse HEAD~1)
setsid env -u WM_PID sh -c '
touch "${tools}/escaped"
i=0; while [ ! -e "${tools}/go" ] && [ $i -lt 2000 ]; do sleep 0.05; i=$((i + 1)); done
${late(tools)}
touch "${tools}/done"' "$base" "$WM_BRANCH" >/dev/null 2>&1 &
i=0; while [ ! -e "${tools}/escaped" ] && [ $i -lt 2000 ]; do sleep 0.05; i=$((i + 1)); done
report COMPLETE "judged"`;
}

/** Single steps up to the end of wave 1's wait: the item is judged, its grandchild still waiting. */
async function judgeBySteps(r: Rig): Promise<void> {
  const steps: string[][] = [
    ['validate'],
    ['prepare'],
    ['branch'],
    ['fetch'],
    ['worktrees', '--wave', '1'],
    ['spawn', '--wave', '1'],
    ['wait', '--wave', '1'],
  ];
  for (const [name = '', ...flags] of steps) {
    const res = await step(r, name, ...flags);
    assert.is(res.code, 0, `step ${name}: ${show(res)}`);
  }
  assert.is(readStateFile(r.repo).items['1'].status, 'complete', 'judged complete');
  assert.not.ok(existsSync(path.join(r.tools, 'done')), 'the grandchild ran before judging');
}

test('grandchild commits a 12 MiB file and conflict markers after judging: ignored (notice), the judged commits land', async () => {
  const r = await rig(
    lateAgent(
      () => `head -c 12582912 /dev/urandom > big.bin
printf "<<<<<<< ours\\nx\\n=======\\ny\\n>>>>>>> theirs\\n" > markers.txt
git add big.bin markers.txt && git commit -qm late`,
    ),
  );
  try {
    await judgeBySteps(r);
    const pinned = readStateFile(r.repo).items['1'].pinned;
    writeFileSync(path.join(r.tools, 'go'), '');
    await waitForFile(path.join(r.tools, 'done'), "the grandchild's late commit");
    assert.is(
      await git(r.repo.dir, 'log', '-1', '--format=%s', 'work/7-1-alpha'),
      'late',
      'the grandchild committed on the item branch',
    );
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const files = await filesOn(r.repo.dir, 'main');
    assert.ok(files.includes('a.txt'), files.join(' '));
    assert.not.ok(files.includes('big.bin'), 'the 12 MiB file landed');
    assert.not.ok(files.includes('markers.txt'), 'the conflict-marker file landed');
    assert.not.ok(
      (await subjectsOn(r.repo.origin as string, 'main')).includes('late'),
      'the late commit reached origin',
    );
    assert.ok(
      typeof pinned === 'string' && (await gitOk(r.repo.dir, 'merge-base', '--is-ancestor', pinned, 'main')),
      `pinned ${pinned} not on main`,
    );
    const n = notices(r);
    assert.ok(
      n.some((m) => m.includes('added to work/7-') && m.includes('after it was judged are ignored')),
      n.join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test('grandchild makes a replace ref for the judged commit after judging: the judged content lands, not the stand-in', async () => {
  // `git replace <judged> <other>` makes git read other's content wherever the judged sha is named: a merge of the
  // pinned sha would bring in files nobody judged.
  const r = await rig(
    lateAgent(
      () => `judged=$(git rev-parse HEAD)
blob=$(echo evil | git hash-object -w --stdin)
tree=$(printf "100644 blob %s\\tevil.txt\\n" "$blob" | git mktree)
git replace "$judged" "$(git commit-tree -p "$0" -m evil "$tree")"`,
    ),
  );
  try {
    await judgeBySteps(r);
    writeFileSync(path.join(r.tools, 'go'), '');
    await waitForFile(path.join(r.tools, 'done'), "the grandchild's replace ref");
    const pinned = readStateFile(r.repo).items['1'].pinned as string;
    assert.match(await git(r.repo.dir, 'replace', '-l'), pinned, 'the replace ref was made for the judged commit');
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    const files = await filesOn(r.repo.dir, 'main');
    assert.ok(files.includes('a.txt'), files.join(' '));
    assert.not.ok(files.includes('evil.txt'), 'the stand-in landed');
    assert.not.ok((await filesOn(r.repo.origin as string, 'main')).includes('evil.txt'), 'the stand-in reached origin');
  } finally {
    r.cleanup();
  }
});

test("grandchild grafts its judged commit onto a sibling's after judging: no merge drops the sibling's work", async () => {
  // A line in .git/info/grafts gives a commit other parents. With Beta's tip as Alpha's parent, git would merge Alpha
  // (made from the same base, without b.txt) on a base that has b.txt, and so delete b.txt in a "clean" merge, after
  // Beta's own merge: Beta's judged work gone from what lands, its merge still recorded.
  const tools = tempDir('wm-agent-');
  const late = lateAgent(
    () => `d=$(git rev-parse --path-format=absolute --git-common-dir); mkdir -p "$d/info"
echo "$(git rev-parse HEAD) $(git rev-parse refs/heads/work/7-2-beta)" > "$d/info/grafts"`,
  )(tools);
  const agent = writeAgent(
    tools,
    `case "$WM_ISSUE" in
2) echo beta > b.txt; commit beta; report COMPLETE "beta";;
*) ${late};;
esac`,
  );
  const items = [
    { issue: 2, title: 'Beta' },
    { issue: 1, title: 'Alpha' },
  ];
  // One agent at a time, Beta first: both from the same base, Beta judged (and so merged) first.
  const plan = planYaml({
    title: 'Hostile refs',
    waves: [{ items }],
    defaults: commandDefaults(agent.command, { timeout: '60s', concurrency: 1 }),
  });
  const repo = await makeRepo({ plan, items, origin: true });
  const r: Rig = {
    repo,
    agent,
    tools,
    initial: await git(repo.dir, 'rev-parse', 'main'),
    cleanup: () => {
      repo.cleanup();
      rmSync(tools, { recursive: true, force: true });
    },
  };
  try {
    await judgeBySteps(r);
    writeFileSync(path.join(tools, 'go'), '');
    await waitForFile(path.join(tools, 'done'), "the grandchild's graft");
    const grafts = readFileSync(path.join(repo.dir, '.git', 'info', 'grafts'), 'utf8');
    assert.match(grafts, readStateFile(repo).items['1'].pinned, 'the graft names the judged commit');
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    for (const dir of [repo.dir, repo.origin as string]) {
      const files = await filesOn(dir, 'main');
      assert.ok(files.includes('a.txt') && files.includes('b.txt'), `${dir}: ${files.join(' ')}`);
    }
  } finally {
    r.cleanup();
  }
});

test('grandchild rewinds the item branch to its base after judging: the judged commits land anyway', async () => {
  const r = await rig(lateAgent(() => 'git update-ref "refs/heads/$1" "$0"'));
  try {
    await judgeBySteps(r);
    writeFileSync(path.join(r.tools, 'go'), '');
    await waitForFile(path.join(r.tools, 'done'), "the grandchild's rewind");
    assert.not.ok(
      await gitOk(r.repo.dir, 'merge-base', '--is-ancestor', readStateFile(r.repo).items['1'].pinned, 'work/7-1-alpha'),
      'the branch was not rewound',
    );
    const result = await run(r);
    assert.is(result.code, 0, show(result));
    assert.ok((await filesOn(r.repo.dir, 'main')).includes('a.txt'), 'a.txt is not on main');
    assert.ok((await filesOn(r.repo.origin as string, 'main')).includes('a.txt'), 'a.txt is not on origin');
    const n = notices(r);
    assert.ok(
      n.some((m) => m.includes('rewound or rewritten after it was judged')),
      n.join('\n'),
    );
  } finally {
    r.cleanup();
  }
});

test.run();
