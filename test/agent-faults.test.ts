/**
 * Agents that misbehave (docs/steps.md, wait): timeouts kill the whole process group, exits, garbage, empty
 * COMPLETE, PARTIAL, FAILED/BLOCKED, DONE; retries carry the failure; dependants of failures are skipped; exit 3.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, gitOk, makeRepo, readEvents, readStateFile, tempDir } from './support/fixture.ts';
import {
  killProcessesWith,
  linesOf,
  processesWith,
  rigItems,
  rigPlan,
  run,
  show,
  type RigItem,
} from './support/wave-rig.ts';
import { collect, startCli } from './support/cli.ts';
import { shWaitForFile, waitFor, waitForFile } from './support/wait.ts';
import { isAlive } from './support/processes.ts';

/** An item's own shell command. */
const cmd = (sh: string) => ({ command: sh });
const commitOnly = `printf x > "f-$WM_ISSUE.txt" && git add . && git commit -qm "work $WM_ISSUE"`;

test('faulty agents: each gets its documented status and failure; dependants skipped; retries carry the failure; exit 3', async () => {
  const marker = String(700000 + Math.floor(Math.random() * 99999));
  const daemonPid = path.join(tempDir('wm-daemon-'), 'pid');
  const waves: RigItem[][] = [
    [
      {
        issue: 11,
        title: 'Sleeper',
        extra: { timeout: '2s', retries: 1, ...cmd(`sleep ${marker} & sleep ${marker}`) },
      },
      { issue: 12, title: 'Exit one', extra: cmd('echo "boom on stderr" >&2; exit 1') },
      { issue: 13, title: 'Garbage', extra: cmd("printf 'lorem ipsum\\nno report here\\n'") },
      { issue: 14, title: 'Lazy', extra: cmd("printf 'STATUS: COMPLETE\\nNOTES: trust me\\n'") },
      {
        issue: 15,
        title: 'Half',
        extra: cmd(`${commitOnly} && printf 'STATUS: PARTIAL\\nTASKS_BLOCKED: 3b\\nNOTES: did half\\n'`),
      },
      { issue: 16, title: 'Quitter', extra: cmd("printf 'STATUS: FAILED\\nNOTES: cannot do it\\n'") },
      { issue: 17, title: 'Blocked', extra: cmd("printf '**STATUS:** BLOCKED\\nNOTES: needs an API key\\n'") },
      { issue: 18, title: 'Done word', extra: cmd(`${commitOnly} && printf 'STATUS: DONE\\n'`) },
      {
        issue: 19,
        title: 'Second try',
        extra: {
          retries: 1,
          ...cmd(`if [ "$WM_ATTEMPT" = 1 ]; then echo "first try broke" >&2; exit 1; fi; ${COMMITTING_AGENT}`),
        },
      },
      // Exits at once but leaves a child behind in its process group: the child must not outlive the item.
      { issue: 20, title: 'Daemon', extra: cmd(`sleep 9${marker} & echo $! > '${daemonPid}'; ${COMMITTING_AGENT}`) },
      // Ignores SIGTERM (and so do its children, which inherit that): the kill must escalate to SIGKILL.
      {
        issue: 25,
        title: 'Deaf',
        extra: { timeout: '2s', ...cmd(`trap '' TERM; sleep 8${marker} & sleep 8${marker}`) },
      },
      { issue: 26, title: 'Silent', extra: cmd('true') },
      // Commits, but its report disagrees with git, and it leaves a file uncommitted: complete, with flags.
      {
        issue: 27,
        title: 'Liar',
        extra: cmd(
          `${commitOnly} && printf y > leftover.txt && printf 'STATUS: COMPLETE\\nBRANCH: work/elsewhere\\nFILES_CHANGED:\\n- g.txt\\n'`,
        ),
      },
    ],
    [
      { issue: 21, title: 'After exit one', dependsOn: [12] },
      { issue: 22, title: 'After done', dependsOn: [18] },
      { issue: 23, title: 'After half', dependsOn: [15] },
      { issue: 24, title: 'After sleeper', dependsOn: [11, 18] },
    ],
  ];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: COMMITTING_AGENT, extra: { timeout: '20s', retries: 0, concurrency: 5 } }),
    items: rigItems(waves),
  });
  try {
    // Watch the sleeper's processes while the run goes on: they must exist (so the check after the run means
    // something).
    let seen = 0;
    const watch = setInterval(() => {
      seen = Math.max(seen, processesWith(`sleep ${marker}`).length);
    }, 100);
    const r = await run(repo).finally(() => clearInterval(watch));
    assert.is(r.code, 3, show(r));
    assert.ok(seen >= 2, `saw ${seen} sleeper processes while it ran`);
    const items = readStateFile(repo).items;
    const branch = (i: number) => items[String(i)].branch as string;
    const expect: Record<number, [string, string | RegExp | null]> = {
      11: ['failed', 'timed out after 2s; its process group was killed'],
      12: ['failed', /^exited 1: boom on stderr$/],
      13: ['failed', 'the final text has no report (no STATUS line)'],
      14: ['failed', `agent reported COMPLETE but committed nothing on ${branch(14)}`],
      15: ['partial', null],
      16: ['failed', 'agent reported FAILED: cannot do it'],
      17: ['failed', 'agent reported FAILED: needs an API key'],
      18: ['complete', null],
      19: ['complete', null],
      20: ['complete', null],
      25: ['failed', 'timed out after 2s; its process group was killed'],
      26: ['failed', 'printed nothing'],
      27: ['complete', null],
      21: ['skipped', null],
      22: ['complete', null],
      23: ['complete', null],
      24: ['skipped', null],
    };
    for (const [issue, [status, failure]] of Object.entries(expect)) {
      const st = items[issue];
      assert.is(st.status, status, `#${issue}: ${JSON.stringify(st)}`);
      if (failure instanceof RegExp) assert.match(st.failure, failure);
      else assert.is(st.failure, failure, `#${issue} failure`);
    }
    assert.is(items['21'].skipReason, 'depends on #12, which is failed');
    assert.is(items['24'].skipReason, 'depends on #11, which is failed');
    // Attempts: the sleeper and the second try were retried once; the others ran once; skipped ones never.
    assert.is(items['11'].attempts, 2);
    assert.is(items['19'].attempts, 2);
    assert.is(items['12'].attempts, 1);
    assert.is(items['21'].attempts, 0);
    assert.not.ok(
      readEvents(repo).some((e) => e.type === 'agent-spawned' && (e.issue === 21 || e.issue === 24)),
      'a skipped item was spawned',
    );
    // Nor did a skipped item get a worktree or branch to leave behind.
    assert.is(items['21'].branch, null);
    assert.is(
      await git(repo.dir, 'for-each-ref', '--format=%(refname)', 'refs/heads/work/7-21-*', 'refs/heads/work/7-24-*'),
      '',
    );
    // The retry prompt carries the previous failure.
    const prompt2 = (issue: number) =>
      readFileSync(path.join(repo.stateDir, 'items', String(issue), 'prompt-2.md'), 'utf8');
    assert.match(prompt2(11), '## Previous attempt failed\ntimed out after 2s; its process group was killed');
    assert.match(prompt2(19), '## Previous attempt failed\nexited 1: first try broke');
    assert.not.match(readFileSync(path.join(repo.stateDir, 'items', '19', 'prompt-1.md'), 'utf8'), 'Previous attempt');
    // PARTIAL keeps its report; DONE counts as COMPLETE.
    assert.is(items['15'].result.report.status, 'PARTIAL');
    assert.equal(items['15'].result.report.tasksBlocked, ['3b']);
    assert.is(items['18'].result.report.status, 'COMPLETE');
    assert.is(await git(repo.dir, 'log', '-1', '--format=%s', `refs/heads/${branch(15)}`), 'work 15');
    // No process of the sleeper is left: leader, shell and both sleeps were killed with their group.
    assert.equal(processesWith(`sleep ${marker}`), []);
    const daemon = Number(readFileSync(daemonPid, 'utf8'));
    assert.ok(daemon > 1, 'the daemon child did not start');
    assert.not.ok(isAlive(daemon), 'a child the agent left behind still runs');
    assert.equal(processesWith(`sleep 9${marker}`), [], 'a child the agent left behind still runs');
    assert.equal(processesWith(`sleep 8${marker}`), [], 'an agent that ignores SIGTERM survived its timeout');
    // What git says wins; where the report disagrees, the item says so.
    const liar = items['27'];
    assert.equal(liar.result.files, ['f-27.txt']);
    assert.equal(liar.result.uncommitted, ['leftover.txt']);
    assert.equal(liar.result.flags, [
      `report names branch work/elsewhere, the item branch is ${branch(27)}`,
      'report lists files git does not show as changed: g.txt',
      'git shows changed files the report does not list: f-27.txt',
      'uncommitted changes left in the worktree (never merged): leftover.txt',
    ]);
    assert.is(await git(repo.dir, 'cat-file', '-t', `main:f-27.txt`), 'blob');
    assert.not.ok(await gitOk(repo.dir, 'cat-file', '-e', 'main:leftover.txt'), 'an uncommitted file was merged');
    // The message names every item needing a human and the command that continues.
    const message = r.stderr.trim().split('\n');
    const at = message.indexOf('milestone 7 needs attention:');
    assert.ok(at >= 0, r.stderr);
    const body = message.slice(at).join('\n');
    for (const issue of [11, 12, 13, 14, 16, 17, 25, 26]) assert.match(body, `  #${issue} failed: `);
    for (const issue of [21, 24]) assert.match(body, `  #${issue} skipped: depends on #`);
    for (const issue of [15, 18, 19, 20, 22, 23, 27]) assert.not.match(body, `#${issue} `);
    assert.match(body, 'npx zx scripts/run.mts 7');
  } finally {
    killProcessesWith(`sleep ${marker}`);
    killProcessesWith(`sleep 9${marker}`);
    killProcessesWith(`sleep 8${marker}`);
    rmSync(path.dirname(daemonPid), { recursive: true, force: true });
    repo.cleanup();
  }
});

test('run again after a failure: the failed item and its skipped dependant are retried and land; old attempt files do not count', async () => {
  const flag = path.join(tempDir('wm-flag-'), 'broken');
  writeFileSync(flag, '');
  const waves: RigItem[][] = [[{ issue: 1, title: 'Flaky' }], [{ issue: 2, title: 'Dependant', dependsOn: [1] }]];
  // Fails while the flag file exists; once fixed, it says it is waiting and lives until the test releases it, so a
  // stale exit code of the last run (the pid-keyed exit file: rerun-integrity.test.ts) would be seen first.
  const agent = `if [ -e "$FLAG" ]; then echo "flag is set" >&2; exit 1; fi; touch "$WAITING"; ${shWaitForFile('"$RELEASE"')}; echo "$WM_ISSUE" >> "$COUNTER"; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({ plan: rigPlan(waves, { command: agent }), items: rigItems(waves) });
  const env = { FLAG: flag, COUNTER: `${flag}.count`, WAITING: `${flag}.waiting`, RELEASE: `${flag}.release` };
  try {
    const first = await run(repo, [], env);
    assert.is(first.code, 3, show(first));
    assert.is(readStateFile(repo).items['1'].status, 'failed');
    assert.is(readStateFile(repo).items['2'].status, 'skipped');
    rmSync(flag);
    const spawnsOf1 = () => readEvents(repo).filter((e) => e.type === 'agent-spawned' && e.issue === 1).length;
    const spawnsBefore = spawnsOf1();
    const running = collect(startCli('run', ['7', '--repo', repo.dir, '--no-push'], { env }), 80_000);
    await waitForFile(env.WAITING, "the fixed agent's start");
    // Released only once the runner has recorded the spawn and gone on to wait for it: all that time the old exit
    // file was there to be misread.
    await waitFor('the runner to record the spawn', () => spawnsOf1() > spawnsBefore);
    writeFileSync(env.RELEASE, '');
    const second = await running;
    assert.is(second.code, 0, show(second));
    const items = readStateFile(repo).items;
    assert.is(items['1'].status, 'complete', JSON.stringify(items['1']));
    assert.is(items['2'].status, 'complete', JSON.stringify(items['2']));
    assert.equal(linesOf(env.COUNTER), ['1', '2']);
    await git(repo.dir, 'merge-base', '--is-ancestor', items['1'].result.commits[0].sha, 'main');
  } finally {
    repo.cleanup();
    rmSync(path.dirname(flag), { recursive: true, force: true });
  }
});

test('agents that wreck their branch or worktree fail alone: the runner goes on, the others complete', async () => {
  const waves: RigItem[][] = [
    [
      {
        issue: 1,
        title: 'Vandal',
        extra: cmd(`git checkout -q --detach && git branch -q -D "$WM_BRANCH" && printf 'STATUS: COMPLETE\\n'`),
      },
      { issue: 2, title: 'Wrecker', extra: cmd(`cd / && rm -rf "$WM_WORKTREE" && printf 'STATUS: COMPLETE\\n'`) },
      {
        issue: 3,
        title: 'Switcher',
        extra: cmd(`git checkout -q -b "side-$WM_ISSUE" && ${commitOnly} && printf 'STATUS: COMPLETE\\n'`),
      },
      { issue: 4, title: 'Good' },
    ],
  ];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: COMMITTING_AGENT, extra: { timeout: '20s', retries: 0, concurrency: 4 } }),
    items: rigItems(waves),
  });
  try {
    const r = await run(repo);
    assert.is(r.code, 3, show(r));
    const items = readStateFile(repo).items;
    assert.is(items['4'].status, 'complete', JSON.stringify(items['4']));
    await git(repo.dir, 'merge-base', '--is-ancestor', items['4'].result.commits[0].sha, 'main');
    for (const issue of ['1', '2', '3']) {
      assert.is(items[issue].status, 'failed', JSON.stringify(items[issue]));
      assert.match(items[issue].failure, `agent reported COMPLETE but committed nothing on ${items[issue].branch}`);
    }
    assert.ok(
      items['3'].result.flags.some((f: string) => f === `the worktree is on side-3, not ${items['3'].branch}`),
      items['3'].result.flags.join('\n'),
    );
    assert.ok(
      items['1'].result.flags.some((f: string) => f.includes('branch') && f.includes('missing')),
      items['1'].result.flags.join('\n'),
    );
    assert.ok(
      items['2'].result.flags.some((f: string) => f.includes('worktree') && f.includes('missing')),
      items['2'].result.flags.join('\n'),
    );
    assert.match(r.stderr, '#1 failed: ');
  } finally {
    repo.cleanup();
  }
});

test.run();
