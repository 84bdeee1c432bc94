/**
 * `scripts/demo.mts --repo <dir>`: creates the sample project `<dir>/demo-calc` and runs its whole milestone
 * offline, with the real claude CLI against the scripted model server (default) or the built-in scripted agent.
 * Whatever the agent, the sample must land: 4 items, a trivial CHANGELOG conflict, green gates, `Merge milestone 1`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { git, gitOk, parentsOf, runCli, tempDir } from './support/fixture.ts';

/** What every landed demo has, whichever agent did the work; returns the report. */
async function assertLandedDemo(root: string): Promise<string> {
  const repo = path.join(root, 'demo-calc');
  assert.ok(existsSync(path.join(repo, '.git')), `${repo} is a git repository`);
  assert.is(await git(repo, 'symbolic-ref', '--short', 'HEAD'), 'main');
  assert.is(await git(repo, 'status', '--porcelain'), '', 'the checkout is clean');
  const show = (file: string) => git(repo, 'show', `main:${file}`);
  for (const file of [
    'src/multiply.js',
    'test/multiply.test.js',
    'src/cli.js',
    'test/cli.test.js',
    'src/divide.js',
    'test/divide.test.js',
  ]) {
    assert.ok(await gitOk(repo, 'cat-file', '-e', `main:${file}`), `main has ${file}`);
  }
  assert.match(await show('src/divide.js'), 'RangeError');
  assert.match(await show('README.md'), '## API');
  const changelog = await show('CHANGELOG.md');
  assert.match(changelog, '- multiply(a, b)');
  assert.match(changelog, '- a command-line interface');
  assert.not.match(changelog, /^(<<<<<<<|=======|>>>>>>>)/m);
  const subject = await git(repo, 'log', '-1', '--format=%s', 'main');
  assert.is(subject, 'Merge milestone 1: Calculator v1.1');
  assert.is((await parentsOf(repo, 'main')).length, 2);
  const merges = (await git(repo, 'log', '--format=%s', '--grep', '^Merge #', 'main')).split('\n').sort();
  assert.equal(merges, [
    'Merge #1: Multiply',
    'Merge #2: Command-line interface',
    'Merge #3: Divide, with a zero check',
    'Merge #4: Document the API',
  ]);
  for (const issue of [1, 2, 3, 4]) assert.match(await show(`plan/backlog/${issue}.md`), /status: done/);
  // Cleaned up: one worktree (the checkout), no item or integration branches.
  assert.is(
    (await git(repo, 'worktree', 'list', '--porcelain')).split('\n').filter((l) => l.startsWith('worktree ')).length,
    1,
  );
  assert.is(await git(repo, 'branch', '--list', 'work/*', 'milestone/*'), '');
  // The landed code works.
  const cli = await git(repo, 'show', 'main:src/cli.js');
  assert.match(cli, 'ops[op]');
  const report = readFileSync(path.join(repo, '.git', 'work-milestone', 'milestone-1', 'report.md'), 'utf8');
  assert.match(report, 'Landed on main');
  assert.match(report, /#1 \(trivial\)|#2 \(trivial\)/, 'the CHANGELOG conflict is in the report');
  assert.match(report, 'post-merge `node --test`: exit 0');
  return report;
}

/** The cost cells of the report's item rows. */
function costCells(report: string): string[] {
  return report
    .split('\n')
    .filter((l) => /^\| \d \| #\d /.test(l))
    .map((row) => row.split('|').map((c) => c.trim())[7] ?? '');
}

test('demo with the real claude CLI: lands the sample under --repo, with costs and turns in the report', async () => {
  const root = tempDir('wm-demo-');
  try {
    const r = await runCli('demo', ['--repo', root], { timeoutMs: 100_000 });
    assert.is(r.code, 0, `stdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`);
    assert.match(r.stderr, 'real claude CLI');
    assert.match(r.stderr, path.join(root, 'demo-calc'));
    const report = await assertLandedDemo(root);
    const costs = costCells(report);
    assert.is(costs.length, 4, report);
    for (const cost of costs) assert.ok(Number(/^\$(\d+\.\d+)$/.exec(cost)?.[1]) > 0, `cost ${cost} in\n${report}`);
    const total = /Agent cost: \$(\d+\.\d+); turns: (\d+)\./.exec(report);
    assert.ok(total && Number(total[1]) > 0 && Number(total[2]) > 0, report);
    // The CLI kept its files in the demo's own home, not the user's.
    assert.ok(existsSync(path.join(root, 'claude-home', '.claude')), 'isolated CLAUDE_CONFIG_DIR under --repo');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('demo with --agent scripted: the same landed sample, no model server; run again, it refuses to overwrite it (exit 2, nothing changed)', async () => {
  const root = tempDir('wm-demo-');
  try {
    const r = await runCli('demo', ['--repo', root, '--agent', 'scripted'], { timeoutMs: 100_000 });
    assert.is(r.code, 0, `stdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`);
    assert.not.match(r.stderr, 'real claude CLI');
    const report = await assertLandedDemo(root);
    assert.is(costCells(report).length, 4, report);
    // The landed sample is there: a second demo must not touch it (one demo run serves both checks).
    const head = await git(path.join(root, 'demo-calc'), 'rev-parse', 'main');
    const again = await runCli('demo', ['--repo', root, '--agent', 'scripted'], { timeoutMs: 30_000 });
    assert.is(again.code, 2, again.stderr);
    assert.match(again.stderr, 'already exists');
    assert.is(await git(path.join(root, 'demo-calc'), 'rev-parse', 'main'), head);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
