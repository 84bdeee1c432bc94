/**
 * `max-output`: an agent that prints more than it (stdout and stderr together) is stopped while it runs, its attempt
 * fails with `output-limit`, and the rest of the milestone lands; an item's own `max-output` overrides the default.
 * Sizes as the plan writes them. The runaway agent waits on a file the test never creates: only the limit ends it.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byteSizeProblem, formatBytes, parseByteSize } from '../tasks/lib/byte-size.ts';
import {
  COMMITTING_AGENT,
  makeRepo,
  readEvents,
  readStateFile,
  runCli,
  show,
  tempDir,
  writeAgent,
} from './support/fixture.ts';
import { isAlive } from './support/processes.ts';
import { planYaml } from './support/plan.ts';

test('sizes: bytes, KiB, MiB, GiB (K, M, G the same); at least 64KiB; printed in the largest whole unit', () => {
  assert.is(parseByteSize(65536), 65536);
  assert.is(parseByteSize('64KiB'), 65536);
  assert.is(parseByteSize('512MiB'), 512 * 1024 ** 2);
  assert.is(parseByteSize('1G'), 1024 ** 3);
  assert.is(parseByteSize('2gib'), 2 * 1024 ** 3);
  assert.is(byteSizeProblem('1KiB'), 'must be at least 64KiB');
  assert.is(byteSizeProblem(1.5), 'must be a size: bytes, or a number with KiB, MiB or GiB (e.g. 512MiB)');
  assert.is(byteSizeProblem('1.5GiB'), 'must be a size: bytes, or a number with KiB, MiB or GiB (e.g. 512MiB)');
  assert.is(byteSizeProblem('99999999999T'), 'is too big');
  assert.throws(() => parseByteSize('lots'), /size "lots" must be a size/);
  assert.equal([1024 ** 3, 1536 * 1024 ** 2, 100 * 1024, 900].map(formatBytes), [
    '1 GiB',
    '1.5 GiB',
    '100 KiB',
    '900 B',
  ]);
});

test('an agent printing past max-output is stopped, fails (output-limit); an item allowed more lands', async () => {
  const tools = tempDir('wm-max-output-');
  const never = path.join(tools, 'never');
  const pidFile = path.join(tools, 'runaway.pid');
  // 300 KiB, then it would wait (60 s at most) for a file nobody makes; #2 prints the same and commits.
  const print = `head -c 307200 /dev/zero | tr '\\0' x`;
  const wait = `i=0; while [ ! -e '${never}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done`;
  const runaway = `echo $$ > '${pidFile}'; ${print}; ${wait}; exit 0`;
  const command = `if [ "$WM_ISSUE" = 1 ]; then ${runaway}; fi; ${print} >&2; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Chatty',
      waves: [
        {
          items: [
            { issue: 1, title: 'Runaway' },
            { issue: 2, title: 'Chatty', extra: { 'max-output': '1MiB' } },
          ],
        },
      ],
      defaults: { agent: 'command', command, retries: 0, timeout: '5m', 'max-output': '128KiB' },
    }),
    items: [
      { issue: 1, title: 'Runaway' },
      { issue: 2, title: 'Chatty' },
    ],
  });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir, '--no-push'], { timeoutMs: 120_000 });
    assert.is(run.code, 3, show(run));
    const state = readStateFile(repo);
    const one = state.items['1'];
    assert.is(one.status, 'failed');
    assert.is(one.failureCode, 'output-limit');
    assert.is(one.failure, 'printed more than 128 KiB (max-output); its process group was killed');
    assert.not.ok(isAlive(Number(readFileSync(pidFile, 'utf8'))), 'the runaway agent was stopped');
    // Cut once it was stopped: what it printed past the limit, between two looks, takes no disk.
    const stdout = path.join(repo.stateDir, 'items', '1', 'item-1.stdout');
    assert.ok(statSync(stdout).size <= 64 * 1024 + 200, `${statSync(stdout).size} bytes kept`);
    assert.match(
      readFileSync(stdout, 'utf8'),
      /x\nwork-milestone: stopped: the agent printed more than 128 KiB \(max-output\)\n$/,
    );
    assert.match(run.stderr + run.stdout, /#1 failed: printed more than 128 KiB/);
    assert.is(state.items['2'].status, 'complete', 'its own max-output (1MiB) let #2 print 300 KiB');
    assert.ok(state.land, 'the rest landed');
    assert.ok(existsSync(path.join(repo.dir, 'item-2.txt')));
  } finally {
    writeFileSync(never, '');
    rmSync(tools, { recursive: true, force: true });
    repo.cleanup();
  }
});

test('an agent that prints past max-output and exits before any look at it fails the same (output-limit)', async () => {
  // 300 KiB to stderr, then a commit and a good report: done before the runner could see it run.
  const command = `head -c 307200 /dev/zero | tr '\\0' x >&2; ${COMMITTING_AGENT}`;
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Quick',
      waves: [{ items: [{ issue: 1, title: 'Quick' }] }],
      defaults: { agent: 'command', command, retries: 0, timeout: '5m', 'max-output': '128KiB' },
    }),
    items: [{ issue: 1, title: 'Quick' }],
  });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir, '--no-push'], { timeoutMs: 120_000 });
    assert.is(run.code, 3, show(run));
    const one = readStateFile(repo).items['1'];
    assert.is(one.failureCode, 'output-limit', show(run));
    const stderr = path.join(repo.stateDir, 'items', '1', 'item-1.stderr');
    assert.ok(statSync(stderr).size <= 64 * 1024 + 200, `${statSync(stderr).size} bytes kept`);
    assert.not.ok(readStateFile(repo).land, 'nothing landed');
  } finally {
    repo.cleanup();
  }
});

test('a fix agent printing past max-output is stopped; the gates stay red, exit 1, the run says why', async () => {
  const tools = tempDir('wm-max-output-');
  const agent = writeAgent(
    tools,
    `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE "alpha";;
fix:0) echo $$ > "$tools/fix.pid"; head -c 307200 /dev/zero | tr '\\0' x
  i=0; while [ ! -e "$tools/never" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
  echo fixed > fixed.txt; report COMPLETE "fixed";;
*) exit 9;;
esac`,
  );
  const repo = await makeRepo({
    plan: planYaml({
      title: 'Chatty fix',
      waves: [{ items: [{ issue: 1, title: 'Alpha' }] }],
      gates: { 'post-merge': [{ name: 'fixed', run: 'test -e fixed.txt' }] },
      defaults: {
        agent: 'command',
        command: agent.command,
        retries: 0,
        timeout: '5m',
        'max-fix-attempts': 1,
        'max-output': '128KiB',
      },
    }),
    items: [{ issue: 1, title: 'Alpha' }],
  });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir, '--no-push'], { timeoutMs: 120_000 });
    assert.is(run.code, 1, show(run));
    assert.not.ok(isAlive(Number(readFileSync(path.join(tools, 'fix.pid'), 'utf8'))), 'the fix agent was stopped');
    const [session] = readStateFile(repo).sessions;
    assert.is(session.role, 'fix');
    assert.is(session.status, 'ended');
    assert.is(session.ok, false);
    assert.match(run.stdout, 'fix agent, attempt 1: no result: printed more than 128 KiB (max-output)');
    const exited = readEvents(repo).filter((e) => e.type === 'agent-exited' && e.role === 'fix');
    assert.equal(
      exited.map((e) => e.detail),
      ['no result: printed more than 128 KiB (max-output)'],
    );
    assert.not.ok(readStateFile(repo).land, 'nothing landed with red gates');
  } finally {
    writeFileSync(path.join(tools, 'never'), '');
    rmSync(tools, { recursive: true, force: true });
    repo.cleanup();
  }
});

test.run();
