/**
 * A run's output without a TTY (CI, a pipe; tasks/engine/line-view.ts): every progress line names its item or step,
 * every node ends in exactly one line, a landed milestone run again prints one line; after a stop, items whose agents
 * run on say so (never ✔), and after a second Ctrl-C the last word says the agents were stopped. Real runners,
 * `command` agents that wait on a file the test creates.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess, show, startCli, watch, type Watched } from './support/cli.ts';
import { COMMITTING_AGENT, readEvents, tempDir } from './support/fixture.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';
import { makeRig, stateOf, type Rig } from './support/converge-rig.ts';
import { isAlive } from './support/processes.ts';

/** An agent that says what it does, waits for `release`, then commits and reports COMPLETE. */
const waiter = (release: string) =>
  `echo "working on $WM_ISSUE"; ${shWaitForFile(`'${release}'`)}; ${COMMITTING_AGENT}`;

function startRun(rig: Rig): Watched {
  return watch(startCli('run', ['7', '--repo', rig.repo.dir, '--no-push'], { env: rig.env }), 90_000);
}

/** Lines of stdout, with what changes from run to run (shas, the temp folder) replaced. */
function linesOf(stdout: string, rig: Rig): string[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replaceAll(rig.repo.dir, '<repo>').replace(/\b[0-9a-f]{10}\b/g, '<sha>'));
}

/** Until both items' agents run and their first progress line, naming each, is out. */
async function untilBothRun(run: Watched): Promise<void> {
  await waitFor('both items in progress', () =>
    [1, 2].every((i) => new RegExp(`^› #${i} (One|Two): in progress \\(attempt 1, \\d+s\\)$`, 'm').test(run.stdout())),
  );
}

/** Progress lines a slow machine adds (every 10 s an agent runs); each still names its item. */
const LATER_PROGRESS = /^› #[12] (One|Two): in progress \(attempt 1, [1-9]\d*s\)$/;

const FULL_RUN = [
  '› Validate the plan: 2 items in 1 waves',
  '✔ Validate the plan',
  '✔ Prepare the working tree',
  '› Create the integration branch: milestone/7-wave-rig at worktrees/milestone-7',
  '✔ Create the integration branch',
  '› Fetch the backlog items: #1 One',
  '› Fetch the backlog items: #2 Two',
  '✔ Fetch the backlog items',
  '› #1: create worktree: worktrees/7-1-one',
  '✔ #1: create worktree',
  '› #2: create worktree: worktrees/7-2-two',
  '✔ #2: create worktree',
  '› #1 One: in progress (attempt 1, 0s)',
  '› #2 Two: in progress (attempt 1, 0s)',
  '✔ #1 One: complete',
  '✔ #2 Two: complete',
  '› Wave 1: merge: #1: clean',
  '› Wave 1: merge: #2: clean',
  '› Wave 1: merge: 2 merged into 7-wave-rig',
  '✔ Wave 1: merge',
  '› Wave 1: relay: relay/wave-1.md',
  '✔ Wave 1: relay',
  '✔ Run quality gates',
  '› Land on main: main is now <sha>',
  '✔ Land on main',
  '› Complete the milestone: report: <repo>/.git/work-milestone/milestone-7/report.md',
  '✔ Complete the milestone',
  'Milestone 7: 0 running · 0 waiting · 2 done · 0 failed · $0.00 so far',
];

test('without a TTY: each line names its item or step, each node ends in one line; a landed milestone run again prints one line', async () => {
  const dir = tempDir('wm-release-');
  const release = path.join(dir, 'release');
  const rig = await makeRig({ command: waiter(release) });
  try {
    const run = startRun(rig);
    await untilBothRun(run);
    writeFileSync(release, '');
    const r = await run.done;
    assert.is(r.code, 0, show(r));
    const lines = linesOf(r.stdout, rig);
    assert.is(new Set(lines).size, lines.length, `a line printed twice:\n${lines.join('\n')}`);
    const kept = lines.filter((l) => !LATER_PROGRESS.test(l));
    // Items run side by side: their lines come in either order; the rest in the graph's order.
    assert.equal([...kept].sort(), [...FULL_RUN].sort(), lines.join('\n'));
    assert.is(kept[0], FULL_RUN[0]);
    assert.is(kept.at(-1), FULL_RUN.at(-1));
    const milestoneWide = (l: string) => !/#[12]/.test(l);
    assert.equal(kept.filter(milestoneWide), FULL_RUN.filter(milestoneWide));

    const again = await runInProcess('run', ['7', '--repo', rig.repo.dir, '--no-push'], { env: rig.env });
    assert.is(again.code, 0, show(again));
    assert.is(again.stdout, '✔ Milestone 7 (Wave rig): landed already, nothing to do\n');
  } finally {
    rig.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a TTY, a stop: agents left running say so (no ✔), the rest is not run; after a second Ctrl-C the last word says the agents were stopped', async () => {
  const dir = tempDir('wm-release-');
  const release = path.join(dir, 'release');
  const rig = await makeRig({ command: waiter(release) });
  try {
    const first = startRun(rig);
    await untilBothRun(first);
    first.child.kill('SIGTERM');
    const r = await first.done;
    assert.is(r.code, 130, show(r));
    const lines = linesOf(r.stdout, rig);
    for (const [issue, title] of [
      [1, 'One'],
      [2, 'Two'],
    ])
      assert.ok(
        lines.includes(`◼ #${issue} ${title}: agent still running (attempt 1), left alive: run again to re-attach`),
        r.stdout,
      );
    assert.not.ok(
      lines.some((l) => /^✔ (#[12] |Wave 1$|Wave 1: (agents|merge|relay))/.test(l)),
      r.stdout,
    );
    for (const node of [
      'Wave 1: merge',
      'Wave 1: relay',
      'Run quality gates',
      'Land on main',
      'Complete the milestone',
    ])
      assert.ok(lines.includes(`◼ ${node}: not run (the run stopped)`), r.stdout);
    assert.is(lines.at(-1), 'Milestone 7: 2 running · 0 waiting · 0 done · 0 failed · $0.00 so far (stopped)');
    assert.is(new Set(lines).size, lines.length, r.stdout);
    assert.match(r.stderr, 'interrupted; agents still running were left alive: run again to re-attach');
    const pids = readEvents(rig.repo)
      .filter((e) => e.type === 'agent-spawned')
      .map((e) => e.pid as number);
    assert.is(pids.length, 2);
    for (const pid of pids) assert.ok(isAlive(pid), 'an agent did not outlive one SIGTERM');

    // Run again: it re-attaches; Ctrl-C twice stops the agents, and nothing after that says they were left alive.
    const second = startRun(rig);
    await untilBothRun(second);
    second.child.kill('SIGINT');
    await waitFor('the first SIGINT to be heard', () => second.stderr().includes('SIGINT: stopping'));
    second.child.kill('SIGINT');
    const r2 = await second.done;
    assert.is(r2.code, 130, show(r2));
    assert.match(r2.stderr, 'stopped the agents of #1, #2');
    assert.not.match(r2.stderr, 'left alive', r2.stderr);
    const last = r2.stderr.trimEnd().split('\n').at(-1) as string;
    // Heard while the runner was still busy, the second Ctrl-C ends it at once (its "stopped …" is the last word).
    assert.ok(
      last === 'interrupted; the second SIGINT stopped the agents of #1, #2: run again to start them afresh' ||
        last === 'stopped the agents of #1, #2',
      r2.stderr,
    );
    // Written before it exited, however fast the agents went: the stop in state, the run's end in the event log.
    for (const issue of ['1', '2']) assert.is(stateOf(rig.repo).items[issue].status, 'pending');
    assert.equal(
      readEvents(rig.repo)
        .filter((e) => e.type === 'run-end')
        .map((e) => e.exitCode),
      [130, 130],
    );
    for (const pid of pids) assert.not.ok(isAlive(pid), 'an agent outlived the second Ctrl-C');
  } finally {
    writeFileSync(release, '');
    rig.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('step without a TTY: one end line per step, a step found done in one line, a missing prerequisite ✖ naming it', async () => {
  const rig = await makeRig();
  try {
    const step = (...args: string[]) =>
      runInProcess('step', [...args.slice(0, 1), '7', '--repo', rig.repo.dir, ...args.slice(1)], { env: rig.env });
    const early = await step('branch');
    assert.is(early.code, 2, show(early));
    assert.is(
      early.stdout,
      '✖ Create the integration branch: step branch needs prepare, which is not done (the working tree is not ' +
        'checked yet); run: npx zx scripts/step.mts prepare 7\n',
    );
    const first = await step('validate');
    assert.is(first.code, 0, show(first));
    assert.is(first.stdout, '› Validate the plan: 2 items in 1 waves\n✔ Validate the plan\n');
    const again = await step('validate');
    assert.is(again.code, 0, show(again));
    assert.is(again.stdout, '↓ Validate the plan (done)\n');
  } finally {
    rig.cleanup();
  }
});

test('without a TTY, a failed item (dag): ✖ with its failure on one line, said once; the summary counts it', async () => {
  const rig = await makeRig({
    schedule: 'dag',
    command: `if [ "$WM_ISSUE" = 2 ]; then echo "cannot do 2"; echo "really"; exit 3; fi; ${COMMITTING_AGENT}`,
  });
  try {
    const r = await runInProcess('run', ['7', '--repo', rig.repo.dir, '--no-push'], { env: rig.env });
    assert.is(r.code, 3, show(r));
    const lines = linesOf(r.stdout, rig);
    assert.is(new Set(lines).size, lines.length, r.stdout);
    assert.ok(lines.includes('✔ #1 One: complete'), r.stdout);
    assert.ok(lines.includes('✔ #1: merge'), r.stdout);
    assert.ok(lines.includes('✖ #2 Two: failed: exited 3: cannot do 2 really'), r.stdout);
    // Said once for the item: not also as a progress line.
    assert.is(lines.filter((l) => l.startsWith('#2 Two', 2) && l.includes('cannot do 2')).length, 1, r.stdout);
    assert.ok(
      lines.some((l) => l.startsWith('✖ Complete the milestone: milestone 7 needs attention: #2 failed')),
      r.stdout,
    );
    assert.is(
      lines.at(-1),
      'Milestone 7: 0 running · 0 waiting · 1 done · 1 failed · $0.00 so far (Complete the milestone failed)',
    );
    // Every line is about a step or an item it names.
    for (const l of lines.slice(0, -1))
      assert.match(l, /^[›✔↓✖◼] (#\d|Validate|Prepare|Create|Fetch|Wave|Run|Land|Complete)/);
  } finally {
    rig.cleanup();
  }
});

test.run();
