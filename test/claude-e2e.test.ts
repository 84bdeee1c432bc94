/**
 * The whole product with the REAL `claude` CLI as every agent, offline: the scripted model server
 * (tasks/demo/model-server.ts) runs in this process, `scripts/run.mts` in a child process, and the CLI
 * really runs the scripted Write/Edit/Bash tool calls in the worktrees (so agents really edit and commit).
 *
 * One milestone, 4 items in 2 waves, on a repository with a bare origin:
 * - wave 1: #11 and #12 both append a line at the end of CHANGELOG.md → a trivial conflict, resolved by union;
 *   #12 reports PARTIAL with TASKS_BLOCKED → merged, and a follow-up backlog item `Finish #12: Farewell`;
 * - wave 2: #13 and #14 edit the same line of config.txt differently → a medium conflict, resolved by the
 *   conflict-resolution agent (the real CLI too, matched by its prompt);
 * - the post-merge gate `test -f FIXED` is red until the fix agent (the real CLI) writes FIXED and commits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServer, type ScriptedAgent } from '../tasks/demo/model-server.ts';
import { bash, commitAll, edit, reportStep, write } from '../tasks/demo/scenario.ts';
import {
  claudeEnv,
  git,
  makeRepo,
  parentsOf,
  readEvents,
  readStateFile,
  runCli,
  tempDir,
  type TestRepo,
} from './support/fixture.ts';
import { claudePlan } from './support/e2e.ts';

const CONFLICT_MATCH = 'You are resolving a merge conflict';
const FIX_MATCH = 'You are fixing the integration branch';

const PLAN = claudePlan(
  'Claude end to end',
  [
    [
      { issue: 11, title: 'Greeting' },
      { issue: 12, title: 'Farewell' },
    ],
    [
      { issue: 13, title: 'Fast mode', dependsOn: [11] },
      { issue: 14, title: 'Safe mode' },
    ],
  ],
  // Green on main; red once Safe mode's file is merged, until a fix agent adds FIXED.
  { 'post-merge': [{ name: 'fixed', run: 'test ! -f src/safe.js || test -f FIXED' }] },
);

const BRANCH = (issue: number, slug: string) => `work/7-${issue}-${slug}`;

const SCENARIO: readonly ScriptedAgent[] = [
  // Milestone-level agents first: their prompts are matched before any item's.
  {
    match: CONFLICT_MATCH,
    steps: [
      write('config.txt', 'name = demo\nmode = fast+safe\nlevel = 1\n'),
      bash('git add config.txt'),
      reportStep({ status: 'COMPLETE', files: ['config.txt'], notes: 'kept both modes: fast+safe' }),
    ],
  },
  {
    match: FIX_MATCH,
    steps: [
      write('FIXED', 'the gate wanted this file\n'),
      commitAll('fix: add FIXED for the gate'),
      reportStep({
        status: 'COMPLETE',
        files: ['FIXED'],
        commits: ['fix: add FIXED for the gate'],
        notes: 'added FIXED',
      }),
    ],
  },
  {
    match: 'Issue #11:',
    steps: [
      write('src/greet.js', 'export const greet = (name) => `hello ${name}`;\n'),
      bash("printf '%s\\n' '- greet(name)' >> CHANGELOG.md"),
      commitAll('feat: greeting (#11)'),
      reportStep({
        status: 'COMPLETE',
        branch: BRANCH(11, 'greeting'),
        files: ['CHANGELOG.md', 'src/greet.js'],
        commits: ['feat: greeting (#11)'],
        notes: 'greet() in src/greet.js',
      }),
    ],
  },
  {
    match: 'Issue #12:',
    steps: [
      write('src/farewell.js', 'export const farewell = (name) => `bye ${name}`;\n'),
      bash("printf '%s\\n' '- farewell(name)' >> CHANGELOG.md"),
      commitAll('feat: farewell, first half (#12)'),
      reportStep({
        status: 'PARTIAL',
        branch: BRANCH(12, 'farewell'),
        files: ['CHANGELOG.md', 'src/farewell.js'],
        commits: ['feat: farewell, first half (#12)'],
        blocked: ['12.2 localise the farewell'],
        notes: 'farewell() exists; localisation is left',
      }),
    ],
  },
  {
    match: 'Issue #13:',
    steps: [
      edit('config.txt', 'mode = basic', 'mode = fast'),
      write('src/fast.js', 'export const fast = true;\n'),
      commitAll('feat: fast mode (#13)'),
      reportStep({
        status: 'COMPLETE',
        branch: BRANCH(13, 'fast-mode'),
        files: ['config.txt', 'src/fast.js'],
        commits: ['feat: fast mode (#13)'],
        notes: 'mode = fast',
      }),
    ],
  },
  {
    match: 'Issue #14:',
    steps: [
      edit('config.txt', 'mode = basic', 'mode = safe'),
      write('src/safe.js', 'export const safe = true;\n'),
      commitAll('feat: safe mode (#14)'),
      reportStep({
        status: 'COMPLETE',
        branch: BRANCH(14, 'safe-mode'),
        files: ['config.txt', 'src/safe.js'],
        commits: ['feat: safe mode (#14)'],
        notes: 'mode = safe',
      }),
    ],
  },
];

let server: ModelServer;
let repo: TestRepo;
let home: string;
let run: Awaited<ReturnType<typeof runCli>>;
let ms = 0;

const requestsFor = (match: string) => server.requests.filter((r) => r.match === match).length;
const originShow = (file: string) => git(repo.origin as string, 'show', `main:${file}`);

test.before(async () => {
  server = await startModelServer(SCENARIO);
  home = tempDir('wm-claude-home-');
  repo = await makeRepo({
    plan: PLAN,
    origin: true,
    items: [
      { issue: 11, title: 'Greeting', description: 'Add greet(name) in src/greet.js and a CHANGELOG line.' },
      {
        issue: 12,
        title: 'Farewell',
        description: 'Add farewell(name) in src/farewell.js, localised, and a CHANGELOG line.',
      },
      { issue: 13, title: 'Fast mode', description: 'Set mode = fast in config.txt; add src/fast.js.' },
      { issue: 14, title: 'Safe mode', description: 'Set mode = safe in config.txt; add src/safe.js.' },
    ],
    files: { 'CHANGELOG.md': '# Changelog\n\n', 'config.txt': 'name = demo\nmode = basic\nlevel = 1\n' },
  });
  const started = Date.now();
  run = await runCli('run', ['7', '--repo', repo.dir, '--yes'], {
    env: claudeEnv(server.url, home),
    timeoutMs: 110_000,
  });
  ms = Date.now() - started;
});

test.after(async () => {
  await server.close();
  if (process.env.WM_KEEP) return console.log(`kept ${repo.root} and ${home}`);
  repo.cleanup();
  rmSync(home, { recursive: true, force: true });
});

const describe = () =>
  `exit ${run.code} after ${ms} ms\nstdout:\n${run.stdout.slice(-3000)}\nstderr:\n${run.stderr.slice(-3000)}`;

test('the run exits 0 and lands main on origin', async () => {
  assert.is(run.code, 0, describe());
  assert.is(
    await git(repo.dir, 'rev-parse', 'main'),
    await git(repo.origin as string, 'rev-parse', 'main'),
    'origin has the local main',
  );
  const subject = await git(repo.origin as string, 'log', '-1', '--format=%s', 'main');
  assert.is(subject, 'Merge milestone 7: Claude end to end');
});

test('every agent was the real CLI: each matched agent made requests to the model server', () => {
  for (const issue of [11, 12, 13, 14])
    assert.ok(requestsFor(`Issue #${issue}:`) >= 4, `#${issue}: ${requestsFor(`Issue #${issue}:`)} requests`);
  assert.ok(requestsFor(CONFLICT_MATCH) >= 3, `conflict agent: ${requestsFor(CONFLICT_MATCH)} requests`);
  assert.ok(requestsFor(FIX_MATCH) >= 3, `fix agent: ${requestsFor(FIX_MATCH)} requests`);
  const events = readEvents(repo).filter((e) => e.type === 'agent-spawned');
  assert.equal([...new Set(events.map((e) => e.role))].sort(), ['conflict', 'fix', 'item']);
});

test('main on origin has every item change, committed by the agents in their branches', async () => {
  assert.match(await originShow('src/greet.js'), 'hello');
  assert.match(await originShow('src/farewell.js'), 'bye');
  assert.match(await originShow('src/fast.js'), 'fast');
  assert.match(await originShow('src/safe.js'), 'safe');
  const log = await git(repo.origin as string, 'log', '--format=%s', 'main');
  for (const subject of [
    'feat: greeting (#11)',
    'feat: farewell, first half (#12)',
    'feat: fast mode (#13)',
    'feat: safe mode (#14)',
    'fix: add FIXED for the gate',
  ]) {
    assert.ok(log.split('\n').includes(subject), `main has "${subject}":\n${log}`);
  }
  for (const issue of [11, 12, 13, 14]) {
    const sha = await git(repo.origin as string, 'log', '--format=%H', '-1', '--grep', `^Merge #${issue}: `, 'main');
    assert.ok(sha, `a Merge #${issue} commit on main`);
    assert.is((await parentsOf(repo.origin as string, sha)).length, 2, `Merge #${issue} has 2 parents`);
  }
});

test('trivial conflict: both CHANGELOG lines kept, no agent', async () => {
  const changelog = await originShow('CHANGELOG.md');
  assert.match(changelog, '- greet(name)');
  assert.match(changelog, '- farewell(name)');
  assert.not.match(changelog, /^(<<<<<<<|=======|>>>>>>>)/m);
  const st = readStateFile(repo);
  const kinds = [st.items['11'].merge.kind, st.items['12'].merge.kind].sort();
  assert.equal(kinds, ['clean', 'trivial']);
});

test('medium conflict: resolved by the conflict-resolution agent (the real CLI)', async () => {
  assert.is(await originShow('config.txt'), 'name = demo\nmode = fast+safe\nlevel = 1');
  const st = readStateFile(repo);
  const kinds = [st.items['13'].merge.kind, st.items['14'].merge.kind].sort();
  assert.equal(kinds, ['clean', 'medium']);
  const medium = [st.items['13'], st.items['14']].find((i) => i.merge.kind === 'medium');
  assert.equal(medium.merge.files, ['config.txt']);
  assert.match(medium.merge.note, 'conflict-resolution agent');
  // The agent ran once, in the integration worktree, during the merge.
  const spawned = readEvents(repo).filter((e) => e.type === 'agent-spawned' && e.role === 'conflict');
  assert.is(spawned.length, 1);
  assert.is(spawned[0].issue, medium.issue);
});

test('PARTIAL: merged, and a follow-up backlog item `Finish #12: Farewell` landed with it', async () => {
  const st = readStateFile(repo);
  const partial = st.items['12'];
  assert.is(partial.status, 'partial');
  assert.ok(partial.merge?.sha, 'partial item merged');
  assert.equal(partial.result.report.tasksBlocked, ['12.2 localise the farewell']);
  assert.is(partial.followUps.length, 1);
  const followUp = partial.followUps[0];
  const text = await originShow(`plan/backlog/${followUp}.md`);
  assert.match(text, 'title: "Finish #12: Farewell"');
  assert.match(text, '12.2 localise the farewell');
  assert.match(text, /status: open/);
  // The milestone's items are done on main (land commits that with the merge).
  for (const issue of [11, 13, 14])
    assert.match(await originShow(`plan/backlog/${issue}.md`), /status: done/, `#${issue} done`);
});

test('red post-merge gate: fixed by the fix agent (the real CLI), then green', async () => {
  assert.is(await originShow('FIXED'), 'the gate wanted this file');
  const st = readStateFile(repo);
  assert.is(st.gates.fixAttempts, 1);
  assert.ok(st.gates.results.every((g: { exitCode: number }) => g.exitCode === 0));
  const gateEvents = readEvents(repo).filter((e) => e.type === 'gate' && e.name === 'fixed');
  assert.is(gateEvents[0]?.exitCode, 1, 'the first run of the gate was red');
  assert.is(gateEvents[gateEvents.length - 1]?.exitCode, 0);
  assert.is(readEvents(repo).filter((e) => e.type === 'agent-spawned' && e.role === 'fix').length, 1);
});

test('cost, turns and session id come from the CLI JSON, into state.json and report.md', () => {
  const st = readStateFile(repo);
  for (const issue of ['11', '12', '13', '14']) {
    const r = st.items[issue].result;
    assert.ok(r.costUsd > 0, `#${issue} costUsd ${r.costUsd}`);
    assert.ok(Number.isInteger(r.turns) && r.turns >= 4, `#${issue} turns ${r.turns}`);
    assert.match(r.sessionId, /^[0-9a-f-]{36}$/);
    assert.is(st.items[issue].attempts, 1);
  }
  const report = readFileSync(path.join(repo.stateDir, 'report.md'), 'utf8');
  const rows = report.split('\n').filter((l) => /^\| \d \| #1[1-4] /.test(l));
  assert.is(rows.length, 4, report);
  for (const row of rows) {
    const cells = row.split('|').map((c) => c.trim());
    const cost = Number(/^\$(\d+\.\d+)$/.exec(cells[7] ?? '')?.[1]);
    assert.ok(cost > 0, `cost cell in ${row}`);
    assert.ok(Number(cells[8]) >= 4, `turns cell in ${row}`);
  }
  const total = /Agent cost: \$(\d+\.\d+); turns: (\d+) \(items, plus 2 conflict\/fix agent run\(s\)\)\./.exec(report);
  assert.ok(total && Number(total[1]) > 0 && Number(total[2]) >= 16, report);
});

test('nothing left behind: no worktrees, merged branches deleted, main checked out clean', async () => {
  assert.is(
    (await git(repo.dir, 'worktree', 'list', '--porcelain')).split('\n').filter((l) => l.startsWith('worktree '))
      .length,
    1,
  );
  assert.is(await git(repo.dir, 'branch', '--list', 'work/*', 'milestone/*'), '');
  assert.is(await git(repo.dir, 'symbolic-ref', '--short', 'HEAD'), 'main');
  assert.is(await git(repo.dir, 'status', '--porcelain'), '');
  assert.not.ok(existsSync(path.join(repo.dir, 'worktrees', 'milestone-7')));
});

test.run();
