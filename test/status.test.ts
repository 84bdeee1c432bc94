/**
 * `status` tells the truth (docs/status.md): during a run (runner attached, its pid, the steps running, each agent
 * alive with its last output line), after Ctrl-C (no runner, an agent that exited and is not judged yet, one still
 * alive, the command that continues), with red gates (the gate, its log, the next command), with an escalation (never
 * `complete`; needs attention); `--watch` without a TTY prints again when something changed and ends with 0 on
 * Ctrl-C. The same run's report.md lists every follow-up created and its mermaid pictures pass mermaid's own parser;
 * `run --json` ends with the run summary. Real runners, real `command` agents waiting on files the test creates.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cliEnv, runInProcess, show, startCli, watch } from './support/cli.ts';
import type { Io } from '../tasks/cli/io.ts';
import { deadPid, killRecordedGroups } from './support/converge-rig.ts';
import { makeRepo, readEvents, tempDir, writeAgent, type TestRepo } from './support/fixture.ts';
import { mermaidBlocks, parseMermaid } from './support/mermaid.ts';
import { commandDefaults, planYaml } from './support/plan.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';
import type { StatusView } from '../tasks/reporting/status-view.ts';

/** `status 7 --json` of a repository, in process. */
async function statusOf(repo: TestRepo): Promise<StatusView> {
  const r = await runInProcess('status', ['7', '--repo', repo.dir, '--json']);
  assert.is(r.code, 0, show(r));
  return JSON.parse(r.stdout) as StatusView;
}

async function statusText(repo: TestRepo): Promise<string> {
  const r = await runInProcess('status', ['7', '--repo', repo.dir]);
  assert.is(r.code, 0, show(r));
  return r.stdout;
}

const itemOf = (view: StatusView, issue: number) => view.items.find((i) => i.issue === issue);

test('status during a run and after Ctrl-C: runner and steps, agents alive or exited-not-judged, last output, next command', async () => {
  const tools = tempDir('wm-status-tools-');
  // Each agent says what it does, then waits for its own release file (created by the test), then commits.
  const agent = writeAgent(
    tools,
    [
      'echo "reading the backlog item"',
      'echo "now: editing item-$WM_ISSUE.txt"',
      shWaitForFile(`"$tools/release-$WM_ISSUE"`),
      'echo "$WM_ISSUE" > "item-$WM_ISSUE.txt"; commit "item $WM_ISSUE"; report COMPLETE',
    ].join('\n'),
  );
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Status test',
      waves: [
        {
          items: [
            { issue: 1, title: 'One' },
            { issue: 2, title: 'Two' },
          ],
        },
      ],
      defaults: commandDefaults(agent.command, { timeout: '2m' }),
    }),
    items: [
      { issue: 1, title: 'One' },
      { issue: 2, title: 'Two' },
    ],
  });
  const release = (issue: number) => writeFileSync(path.join(tools, `release-${issue}`), '');
  const stdoutOf = (issue: number) => path.join(repo.stateDir, 'items', String(issue), 'item-1.stdout');
  try {
    const runner = watch(startCli('run', ['7', '--repo', repo.dir, '--no-push']));
    await waitFor('both agents at work', () =>
      [1, 2].every((i) => existsSync(stdoutOf(i)) && readFileSync(stdoutOf(i), 'utf8').includes('now:')),
    );

    const during = await statusOf(repo);
    assert.is(during.phase, 'running');
    assert.equal(during.runner, {
      attached: true,
      pid: runner.child.pid as number,
      command: 'run 7',
      since: during.runner?.since as string,
    });
    assert.ok(during.steps.includes('spawn@1#1') && during.steps.includes('spawn@1#2'), JSON.stringify(during.steps));
    for (const issue of [1, 2]) {
      const item = itemOf(during, issue);
      assert.is(item?.status, 'in-progress');
      assert.is(item?.attempts, 1);
      assert.is(item?.agent.life, 'running');
      assert.is(item?.agent.activity, `now: editing item-${issue}.txt`);
      assert.ok(typeof item?.elapsedMs === 'number' && item.elapsedMs >= 0);
    }
    assert.is(during.next, null);
    const text = await statusText(repo);
    assert.match(text, /^milestone 7: running \(milestone\/7-status-test\)\n/);
    assert.match(text, `  runner: pid ${runner.child.pid} (run 7), since `);
    assert.match(text, /#1 One: in-progress \(attempt 1, agent running, pid \d+/);
    assert.match(text, '\n      last: now: editing item-1.txt\n');

    runner.child.kill('SIGINT');
    const interrupted = await runner.done;
    assert.is(interrupted.code, 130, show(interrupted));
    // #2's agent ends while no runner watches: over, but not judged.
    release(2);
    await waitFor('#2 exited', () => existsSync(path.join(repo.stateDir, 'items', '2', 'item-1.exit')));

    const after = await statusOf(repo);
    assert.is(after.phase, 'stopped');
    assert.is(after.runner, null, 'run.lock is released');
    assert.equal(after.steps, []);
    assert.is(after.lastRun?.exitCode, 130);
    assert.is(itemOf(after, 1)?.status, 'in-progress');
    assert.is(itemOf(after, 1)?.agent.life, 'running');
    assert.is(itemOf(after, 2)?.status, 'in-progress');
    assert.is(itemOf(after, 2)?.agent.life, 'exited');
    assert.is(itemOf(after, 2)?.agent.exitCode, 0);
    assert.match(after.next ?? '', '`npx zx scripts/run.mts 7` continues');
    const afterText = await statusText(repo);
    assert.match(afterText, /^milestone 7: stopped /);
    assert.match(afterText, /runner: none attached; the last run \(pid \d+\) ended with exit 130: interrupted/);
    assert.match(afterText, '#2 Two: in-progress (attempt 1, agent exited (code 0), not judged yet');
    assert.match(afterText, 'next: `npx zx scripts/run.mts 7` continues');

    // The next run judges #2, re-attaches to #1 and lands: complete, nothing to do.
    release(1);
    const again = await runInProcess('run', ['7', '--repo', repo.dir, '--no-push']);
    assert.is(again.code, 0, show(again));
    const done = await statusOf(repo);
    assert.is(done.phase, 'complete');
    assert.is(done.next, null);
    assert.equal(
      done.items.map((i) => [i.issue, i.status, i.agent.life]),
      [
        [1, 'complete', 'ended'],
        [2, 'complete', 'ended'],
      ],
    );
  } finally {
    release(1);
    release(2);
    killRecordedGroups(repo);
    repo.cleanup();
  }
});

test('status with red gates: "gates red", the gate, its log, and the command that continues', async () => {
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Red gates',
      waves: [{ items: [{ issue: 1, title: 'One' }] }],
      defaults: commandDefaults(
        `echo 1 > one.txt && git add one.txt && git commit -qm one && printf 'STATUS: COMPLETE\\nBRANCH: %s\\n' "$WM_BRANCH"`,
        { 'max-fix-attempts': 0 },
      ),
      gates: { 'post-merge': [{ name: 'unit tests', run: 'echo boom-from-the-gate; exit 1' }] },
    }),
    items: [{ issue: 1, title: 'One' }],
  });
  try {
    const r = await runInProcess('run', ['7', '--repo', repo.dir, '--no-push']);
    assert.is(r.code, 1, show(r));
    const view = await statusOf(repo);
    assert.is(view.phase, 'gates red');
    assert.is(view.gates.green, null);
    assert.is(view.gates.red.length, 1, JSON.stringify(view.gates));
    const red = view.gates.red[0];
    assert.is(red?.name, 'unit tests');
    assert.is(red?.phase, 'post-merge');
    assert.is(red?.exitCode, 1);
    assert.ok(red?.log && readFileSync(red.log, 'utf8').includes('boom-from-the-gate'), red?.log ?? 'no log');
    assert.match(view.next ?? '', 'npx zx scripts/run.mts 7 --adopt');
    const text = await statusText(repo);
    assert.match(text, /^milestone 7: gates red /);
    assert.match(text, `gate post-merge \`unit tests\`: red (exit 1) on ${red?.sha.slice(0, 10)}; log: ${red?.log}`);
    assert.match(text, /runner: none attached; the last run \(pid \d+\) ended with exit 1: gate "unit tests"/);

    // A runner killed outright leaves run.lock behind: its owner is dead, so nothing is attached.
    const dead = deadPid();
    writeFileSync(
      path.join(repo.stateDir, 'run.lock'),
      `${JSON.stringify({ pid: dead, startTime: '1', startedAt: '2026-01-01T00:00:00.000Z', command: 'run 7' })}\n`,
    );
    const stale = await statusOf(repo);
    assert.equal(stale.runner, { attached: false, pid: dead, command: 'run 7', since: '2026-01-01T00:00:00.000Z' });
    assert.is(stale.phase, 'gates red');
    assert.match(await statusText(repo), `runner: none attached (run.lock of pid ${dead} is stale); the last run`);
  } finally {
    repo.cleanup();
  }
});

test('an escalation: status is never "complete" (needs attention); report.md lists every follow-up and its mermaid pictures parse; run --json ends with the summary', async () => {
  const tools = tempDir('wm-status-tools-');
  // #1 and #2 write the same three files differently (a heavy conflict: the second to merge is escalated); #3 is
  // PARTIAL (a follow-up for the rest).
  const agent = writeAgent(
    tools,
    [
      'case "$WM_ISSUE" in',
      '  1|2) for f in a b c; do echo "$WM_ISSUE" > "$f.txt"; done; commit "item $WM_ISSUE"; report COMPLETE ;;',
      '  3) echo 3 > d.txt; commit "item 3"; report PARTIAL "the tests are left" ;;',
      'esac',
    ].join('\n'),
  );
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Escalation',
      waves: [
        {
          items: [
            { issue: 1, title: 'One: "quoted" # and ; colon' },
            { issue: 2, title: 'Two' },
            { issue: 3, title: 'Three' },
          ],
        },
      ],
      defaults: commandDefaults(agent.command),
      gates: { 'post-merge': ['true'] },
    }),
    items: [
      { issue: 1, title: 'One: "quoted" # and ; colon' },
      { issue: 2, title: 'Two' },
      { issue: 3, title: 'Three' },
    ],
  });
  try {
    const r = await runInProcess('run', ['7', '--repo', repo.dir, '--no-push', '--json']);
    assert.is(r.code, 3, show(r));
    const lines = r.stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1] as string) as {
      type: string;
      exitCode: number;
      exitReason: string;
      items: Array<{ issue: number; status: string }>;
      counts: Record<string, number>;
      followUps: Array<{ issue: number; from: number; why: string }>;
      durationMs: number;
    };
    assert.is(JSON.parse(lines[lines.length - 2] as string).type, 'run-end', 'the summary follows run-end');
    assert.is(summary.type, 'summary');
    assert.is(summary.exitCode, 3);
    assert.is(summary.exitReason, 'needs-attention');
    assert.equal(summary.counts, { complete: 1, escalated: 1, partial: 1 });
    assert.ok(summary.durationMs >= 0);
    const escalated = summary.items.find((i) => i.status === 'escalated')?.issue as number;
    assert.ok(escalated === 1 || escalated === 2, JSON.stringify(summary.items));
    assert.equal(
      summary.followUps.map((f) => [f.from, f.why]).sort(),
      [
        [3, 'partial'],
        [escalated, 'escalated'],
      ].sort(),
    );

    const view = await statusOf(repo);
    assert.is(view.complete, true, 'the milestone completed (report written)');
    assert.is(view.phase, 'needs attention');
    assert.equal(
      view.attention.map((a) => [a.issue, a.status]),
      [[escalated, 'escalated']],
    );
    assert.match(view.attention[0]?.why ?? '', /\(backlog item #\d+\)$/);
    const text = await statusText(repo);
    assert.match(text, /^milestone 7: needs attention /);
    assert.match(text, `\n  needs attention:\n    #${escalated} escalated: `);

    const report = readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8');
    const followUps = report.slice(report.indexOf('## Follow-ups')).split('\n##')[0] as string;
    for (const f of summary.followUps)
      assert.match(followUps, `- #${f.issue} (from #${f.from}): `, `#${f.issue} missing:\n${report}`);
    assert.not.match(followUps, 'None.');
    const blocks = mermaidBlocks(report);
    assert.is(blocks.length, 2, report);
    assert.is(await parseMermaid(blocks[0] as string), 'flowchart-v2');
    assert.is(await parseMermaid(blocks[1] as string), 'gantt');
    // The title's `:`, `;` and quotes (which would end or split a task line) are gone from the timeline.
    assert.match(blocks[1] as string, /\n {4}#1 One quoted # and colon \(attempt 1\) :done, b\d+, \d+, \d+\n/);
    // A broken diagram fails the same parser: a task line whose separator is lost.
    const broken = (blocks[1] as string).replace(/ :(done|crit|active|milestone), b1, /, ' ');
    assert.is.not(broken, blocks[1]);
    await parseMermaid(broken).then(
      () => assert.unreachable('a broken gantt parsed'),
      (error: Error) => assert.match(error.message, 'Parse error'),
    );
    assert.match(
      report,
      /\| wave \| item \| status \| merge \| attempts \| time \| cost \| turns \| tokens \| priority \| labels \|/,
    );
    assert.ok(readEvents(repo).some((e) => e.type === 'merge'));
  } finally {
    killRecordedGroups(repo);
    repo.cleanup();
  }
});

test('status --watch without a TTY: prints again when something changed; Ctrl-C ends it with 0', async () => {
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Watch',
      waves: [{ items: [{ issue: 1, title: 'One' }] }],
      defaults: commandDefaults('true'),
    }),
    items: [{ issue: 1, title: 'One' }],
  });
  try {
    const watcher = watch(startCli('status', ['7', '--repo', repo.dir, '--watch']));
    await waitFor('the first status', () => watcher.stdout().includes('milestone 7: not started\n'));
    const v = await runInProcess('step', ['validate', '7', '--repo', repo.dir]);
    assert.is(v.code, 0, show(v));
    await waitFor('the status again', () => watcher.stdout().includes('milestone 7: started'));
    watcher.child.kill('SIGINT');
    const r = await watcher.done;
    assert.is(r.code, 0, show(r));
    assert.is(r.stdout.split('milestone 7: not started\n').length, 2, `printed without a change:\n${r.stdout}`);
  } finally {
    repo.cleanup();
  }
});

test('status --watch on a TTY: the screen is redrawn (clear, home) every second whatever changed; ends with 0', async () => {
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Watch',
      waves: [{ items: [{ issue: 1, title: 'One' }] }],
      defaults: commandDefaults('true'),
    }),
    items: [{ issue: 1, title: 'One' }],
  });
  try {
    const { main } = await import('../tasks/cli/main.ts');
    const closed = new AbortController();
    const writes: string[] = [];
    const io: Io = {
      cwd: repo.dir,
      env: cliEnv(),
      out: (t) => void writes.push(t),
      err: (t) => void writes.push(`stderr: ${t}`),
      isTTY: true,
      confirm: () => Promise.resolve(false),
      outClosed: closed.signal,
    };
    const watching = main('status', ['7', '--repo', repo.dir, '--watch'], io);
    await waitFor('two redraws', () => writes.length >= 2);
    closed.abort();
    assert.is(await watching, 0);
    for (const w of writes.slice(0, 2)) assert.is(w, '\u001b[H\u001b[2Jmilestone 7: not started');
  } finally {
    repo.cleanup();
  }
});

test.run();
