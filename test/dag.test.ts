/**
 * `--schedule dag` with real processes (docs/steps.md, "Schedules"): an item starts once what it depends on merged,
 * not when the previous wave ended; items merge as they finish; conflict group members are never in flight together;
 * a `parallel: false` wave stays serial; a failed item's dependants are skipped. Orderings are proven by agents that
 * wait on files the test creates, or by git ancestry, never by timing.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, makeRepo, readEvents, readStateFile, startCli, tempDir } from './support/fixture.ts';
import { linesOf, maxOverlap, rigItems, run, show, waitFor, type RigItem } from './support/wave-rig.ts';

/** Index of the first event matching `match` (-1 when none). */
function indexOf(events: readonly any[], match: (e: any) => boolean): number {
  return events.findIndex(match);
}

const merged = (issue: number) => (e: any) => e.type === 'merge' && e.issue === issue && e.sha;
const spawned = (issue: number) => (e: any) => e.type === 'agent-spawned' && e.issue === issue;
const exited = (issue: number) => (e: any) => e.type === 'agent-exited' && e.issue === issue;

/** Bounded poll (1200 x 0.05 s: a guard against a hung test, not an ordering) until `cond` holds. */
const until = (cond: string) => `i=0; until ${cond} || [ $i -ge 1200 ]; do sleep 0.05; i=$((i + 1)); done`;

test('dag: B (wave 2, depends on fast A) starts and merges while slow C of wave 1 still runs', async () => {
  const release = path.join(tempDir('wm-dag-'), 'release');
  // C (#2) ends only once the test has seen B (#3) merged and created the release file.
  const agent = `if [ "$WM_ISSUE" = 2 ]; then ${until('[ -e "$RELEASE" ]')}; fi; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: `milestone: {number: 7, title: "Dag"}
waves:
  - wave: 1
    items: [{issue: 1, title: "A fast"}, {issue: 2, title: "C slow"}]
  - wave: 2
    items: [{issue: 3, title: "B", depends-on: [1]}]
defaults: {agent: command, command: ${JSON.stringify(agent)}, timeout: 90s, retries: 0, concurrency: 3}
`,
    items: [
      { issue: 1, title: 'A fast' },
      { issue: 2, title: 'C slow' },
      { issue: 3, title: 'B' },
    ],
  });
  const child = startCli('run', ['7', '--repo', repo.dir, '--no-push', '--schedule', 'dag'], {
    env: { RELEASE: release },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  try {
    const sawB = await waitFor(
      '#3 merged',
      () => existsSync(path.join(repo.stateDir, 'events.jsonl')) && readEvents(repo).some(merged(3)),
      60_000,
    ).catch(() => false);
    writeFileSync(release, '');
    assert.ok(sawB, `#3 was merged before #2 ended\n${stderr}`);
    assert.is(await code, 0, stderr);
    const events = readEvents(repo);
    const order = [merged(1), spawned(3), merged(3), exited(2), merged(2)].map((m) => indexOf(events, m));
    assert.ok(
      order.every((at) => at >= 0),
      JSON.stringify(order),
    );
    assert.equal(
      [...order].sort((a, b) => a - b),
      order,
      'A merged → B started → B merged → C ended → C merged',
    );
    // B started from integration holding A (and not C): what it depends on, as merged before it started.
    const st = readStateFile(repo).items;
    assert.ok(await isAncestor(repo.dir, st['1'].merge.sha, st['3'].base), 'B is based on A merged');
    assert.not.ok(await isAncestor(repo.dir, st['2'].merge.sha, st['3'].base), 'B is not based on C');
    // Its relay (wave 1's, written after A's merge) said A is complete and C not yet.
    const prompt = readFileSync(path.join(repo.stateDir, 'items', '3', 'prompt-1.md'), 'utf8');
    assert.match(prompt, /#### Item: #1 — A fast\n- Status: COMPLETE/);
    assert.match(prompt, /#### Item: #2 — C slow\n- Status: IN-PROGRESS/);
    assert.match(await git(repo.dir, 'show', 'main:item-3.txt'), /^3$/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    repo.cleanup();
    rmSync(path.dirname(release), { recursive: true, force: true });
  }
});

async function isAncestor(dir: string, a: string, b: string): Promise<boolean> {
  return git(dir, 'merge-base', '--is-ancestor', a, b).then(
    () => true,
    () => false,
  );
}

test('dag: members of a conflict group are never in flight together, whatever their waves', async () => {
  const times = path.join(tempDir('wm-dag-'), 'times');
  // X (#1, group g) lives until a second agent started: Z (#2) in a right schedule. A wrong one would also start Y
  // (#3, group g, no dependency) at once, with X still alive.
  const agent = [
    'echo "start $WM_ISSUE $(date +%s%N)" >> "$TIMES"',
    `if [ "$WM_ISSUE" = 1 ]; then ${until('[ "$(grep -c "^start " "$TIMES")" -ge 2 ]')}; fi`,
    `echo "end $WM_ISSUE $(date +%s%N)" >> "$TIMES"`,
    COMMITTING_AGENT,
  ].join('; ');
  const repo = await makeRepo({
    plan: `milestone: {number: 7, title: "Dag groups"}
conflict-groups:
  - {group-id: g, reason: "same files", items: ["X", "Y"]}
waves:
  - wave: 1
    items: [{issue: 1, title: "X", conflict-group: g}, {issue: 2, title: "Z"}]
  - wave: 2
    items: [{issue: 3, title: "Y", conflict-group: g}]
defaults: {agent: command, command: ${JSON.stringify(agent)}, timeout: 90s, retries: 0, concurrency: 3, schedule: dag}
`,
    items: [
      { issue: 1, title: 'X' },
      { issue: 2, title: 'Z' },
      { issue: 3, title: 'Y' },
    ],
  });
  try {
    const r = await run(repo, [], { TIMES: times });
    assert.is(r.code, 0, show(r));
    const events = readEvents(repo);
    assert.ok(indexOf(events, merged(1)) >= 0 && indexOf(events, merged(1)) < indexOf(events, spawned(3)));
    const lines = linesOf(times);
    const at = (kind: string, issue: number) =>
      BigInt(lines.find((l) => l.startsWith(`${kind} ${issue} `))?.split(' ')[2] ?? '-1');
    assert.ok(at('end', 1) < at('start', 3), lines.join('\n'));
    assert.ok(at('start', 2) < at('end', 1), `Z ran beside X: ${lines.join('\n')}`);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(times), { recursive: true, force: true });
  }
});

test('dag: a parallel: false wave stays serial, each item built on the previous one merged', async () => {
  const three: RigItem[] = [1, 2, 3].map((issue) => ({ issue, title: `Item ${issue}` }));
  const times = path.join(tempDir('wm-dag-'), 'times');
  const agent = `echo "start $(date +%s%N)" >> "$TIMES"; echo "end $(date +%s%N)" >> "$TIMES"; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: `milestone: {number: 7, title: "Dag serial"}
waves:
  - wave: 1
    parallel: false
    items: [${three.map((i) => `{issue: ${i.issue}, title: "${i.title}"}`).join(', ')}]
defaults: {agent: command, command: ${JSON.stringify(agent)}, timeout: 60s, retries: 0, concurrency: 3}
`,
    items: rigItems([three]),
  });
  try {
    const r = await run(repo, ['--schedule', 'dag'], { TIMES: times });
    assert.is(r.code, 0, show(r));
    const st = readStateFile(repo).items;
    assert.ok(await isAncestor(repo.dir, st['1'].merge.sha, st['2'].base), '#2 is based on #1 merged');
    assert.ok(await isAncestor(repo.dir, st['2'].merge.sha, st['3'].base), '#3 is based on #2 merged');
    assert.is(maxOverlap(linesOf(times)), 1);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(times), { recursive: true, force: true });
  }
});

test('dag: a failed item is not merged, its dependants are skipped, the others merge and the run exits 3', async () => {
  const agent = `if [ "$WM_ISSUE" = 1 ]; then exit 1; fi; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: `milestone: {number: 7, title: "Dag failure"}
waves:
  - wave: 1
    items: [{issue: 1, title: "F"}, {issue: 2, title: "G"}]
  - wave: 2
    items: [{issue: 3, title: "D", depends-on: [1]}, {issue: 4, title: "E", depends-on: [2]}]
defaults: {agent: command, command: ${JSON.stringify(agent)}, timeout: 60s, retries: 0, schedule: dag}
`,
    items: ['F', 'G', 'D', 'E'].map((title, i) => ({ issue: i + 1, title })),
  });
  try {
    const r = await run(repo);
    assert.is(r.code, 3, show(r));
    const st = readStateFile(repo).items;
    assert.equal(
      [1, 2, 3, 4].map((i) => st[String(i)].status),
      ['failed', 'complete', 'skipped', 'complete'],
    );
    assert.match(st['3'].skipReason, /depends on #1, which is failed/);
    assert.ok(st['4'].merge.sha && st['2'].merge.sha);
    assert.not.ok(readEvents(repo).some(spawned(3)), 'D never started');
  } finally {
    repo.cleanup();
  }
});

test.run();
