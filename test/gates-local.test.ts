/**
 * `gates.mts` pre-commit style (README, docs/plan-format.md `quality-gates`): a gate with `files:` runs only when the
 * staged change (or `--from-ref/--to-ref`) touches one of them, `--all-files` runs every gate, each log's path is
 * printed; `--install-hook` writes a pre-commit hook (core.hooksPath respected, a foreign hook never replaced) that
 * blocks a commit from a fresh shell when a gate is red; `--uninstall-hook` removes it.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, type TestRepo } from './support/fixture.ts';
import { runCliMeasured, runInProcess, runProcess } from './support/cli.ts';
import { planYaml } from './support/plan.ts';

/** Three gates; each one leaves a mark in `$MARKS` when it runs. `src-check` is red while `src/bad.txt` exists. */
function gatesPlan(): string {
  return planYaml({
    title: 'Local gates',
    waves: [{ items: [{ issue: 1, title: 'One' }] }],
    gates: {
      'pre-merge': [
        { name: 'src-check', run: 'touch "$MARKS/src" && test ! -e src/bad.txt', files: ['src/**'] },
        { name: 'docs-check', run: 'touch "$MARKS/docs"', files: ['**/*.md'] },
      ],
      'post-merge': ['touch "$MARKS/always"'],
    },
  });
}

async function gatesRepo(): Promise<{ r: TestRepo; marks: string }> {
  const r = await makeRepo({ plan: gatesPlan(), items: [{ issue: 1, title: 'One' }], files: { 'src/a.txt': 'a\n' } });
  const marks = path.join(r.root, 'marks');
  mkdirSync(marks);
  return { r, marks };
}

/** The gates that ran since the last call (their marks, which are then cleared). */
function ran(marks: string): string[] {
  const names = readdirSync(marks).sort();
  for (const n of names) rmSync(path.join(marks, n));
  return names;
}

test('only the gates whose files: match the staged change run; --all-files runs all; logs are printed', async () => {
  const { r, marks } = await gatesRepo();
  try {
    const env = { MARKS: marks };
    writeFileSync(path.join(r.dir, 'README.md'), '# changed\n');
    // Unstaged: the staged change is empty, so only the gate without files: runs.
    const unstaged = await runInProcess('gates', [], { cwd: r.dir, env });
    assert.is(unstaged.code, 0, unstaged.stderr);
    assert.equal(ran(marks), ['always']);
    assert.match(unstaged.stdout, /^skip pre-merge src-check \(nothing in the staged change matches src\/\*\*\)$/m);

    await git(r.dir, 'add', 'README.md');
    const staged = await runInProcess('gates', ['7'], { cwd: r.dir, env });
    assert.is(staged.code, 0, staged.stderr);
    assert.equal(ran(marks), ['always', 'docs']);
    const logs = [...staged.stdout.matchAll(/^ok {3}.+ \(exit 0, [\d.]+s\) log: (.+)$/gm)].map((m) => m[1]);
    assert.is(logs.length, 2, staged.stdout);
    for (const log of logs) assert.ok(existsSync(log as string), `no log ${log}`);

    const all = await runInProcess('gates', ['--all-files'], { cwd: r.dir, env });
    assert.is(all.code, 0, all.stderr);
    assert.equal(ran(marks), ['always', 'docs', 'src']);

    // A red gate: exit 1, its log named, and the gates after it do not run.
    writeFileSync(path.join(r.dir, 'src', 'bad.txt'), 'bad\n');
    await git(r.dir, 'add', 'src/bad.txt');
    const red = await runInProcess('gates', [], { cwd: r.dir, env });
    assert.is(red.code, 1, red.stdout);
    assert.equal(ran(marks), ['src']);
    assert.match(red.stdout, /^FAIL pre-merge src-check \(exit 1, [\d.]+s\) log: \S+1-pre-merge-src-check\.log$/m);
    assert.match(red.stderr, /^gate "src-check" failed with exit 1 \(log: \S+\.log\):/);
  } finally {
    r.cleanup();
  }
});

test('a red gate that prints 600 MB: the message quotes its last lines, the command stays under 300 MB', async () => {
  const plan = planYaml({
    title: 'Loud gate',
    waves: [{ items: [{ issue: 1, title: 'One' }] }],
    gates: {
      'pre-merge': [
        {
          name: 'loud',
          run: "yes 'noise from a chatty test runner' | head -c 629145600; echo 'REAL FAILURE: expected 4, got 5'; exit 3",
        },
      ],
    },
  });
  const r = await makeRepo({ plan, items: [{ issue: 1, title: 'One' }] });
  try {
    const red = await runCliMeasured('gates', ['--all-files'], { cwd: r.dir, timeoutMs: 300_000 });
    assert.is(red.code, 1, red.stdout);
    const log = /log: (\S+\.log)\)/.exec(red.stderr)?.[1] as string;
    assert.ok(statSync(log).size > 600 * 1024 * 1024, 'the whole output is kept in the log');
    const quoted = red.stderr.trimEnd().split('\n').slice(1);
    assert.is(quoted.at(-1), 'REAL FAILURE: expected 4, got 5', red.stderr.slice(-300));
    assert.is(quoted.length, 30);
    assert.ok(red.readings > 0, "the command's memory was read");
    console.log(`    gates peak RSS ${Math.round(red.peakKiB / 1024)} MiB for a 600 MB log`);
    assert.ok(red.peakKiB < 300 * 1024, `peak RSS ${red.peakKiB} KiB`);
  } finally {
    r.cleanup();
  }
});

test('a gate that writes past max-output is stopped (exit 125), its log cut to the limit with the reason last', async () => {
  const plan = planYaml({
    title: 'Local gates',
    waves: [{ items: [{ issue: 1, title: 'One' }] }],
    defaults: { 'max-output': '64KiB' },
    gates: { 'pre-merge': [{ name: 'endless', run: 'while :; do echo "a test that never ends"; done' }] },
  });
  const r = await makeRepo({ plan, items: [{ issue: 1, title: 'One' }] });
  try {
    const red = await runInProcess('gates', ['--all-files'], { cwd: r.dir });
    assert.is(red.code, 1, red.stdout);
    assert.match(red.stderr, /^gate "endless" failed with exit 125 /);
    const log = /log: (\S+\.log)\)/.exec(red.stderr)?.[1] as string;
    assert.ok(statSync(log).size <= 64 * 1024 + 200, `log of ${statSync(log).size} bytes`);
    assert.is(
      red.stderr.trimEnd().split('\n').at(-1),
      'work-milestone: stopped: the gate wrote more than 64 KiB (defaults.max-output) to this log',
    );
  } finally {
    r.cleanup();
  }
});

test('what a gate left running that writes on to its log is stopped past max-output, the log cut, the next gate unharmed', async () => {
  const flood = '"$(git rev-parse --git-common-dir)/work-milestone/local-gates/1-pre-merge-flood.log"';
  const plan = planYaml({
    title: 'Local gates',
    waves: [{ items: [{ issue: 1, title: 'One' }] }],
    defaults: { 'max-output': '64KiB' },
    gates: {
      'pre-merge': [
        // Passes once what it started outside its group runs (as `pg_ctl start` waits for its server); that writes
        // to the log without end.
        {
          name: 'flood',
          run:
            'up="$(git rev-parse --git-common-dir)/daemon-up"; ' +
            'setsid sh -c \'touch "$1"; while :; do echo a daemon that talks; done\' sh "$up" & ' +
            'i=0; until [ -e "$up" ]; do i=$((i+1)); [ $i -gt 2400 ] && exit 1; sleep 0.05; done',
        },
        // Waits (on the log, not on time) until the runner has cut the first log.
        {
          name: 'after',
          run: `i=0; until grep -q 'work-milestone: stopped' ${flood}; do i=$((i+1)); [ $i -gt 1200 ] && exit 1; sleep 0.05; done`,
        },
      ],
    },
  });
  const r = await makeRepo({ plan, items: [{ issue: 1, title: 'One' }] });
  try {
    const run = await runInProcess('gates', ['--all-files'], { cwd: r.dir });
    assert.is(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /process(es)? the gates left running outside their process group \(setsid\)/);
    const log = path.join(r.dir, '.git', 'work-milestone', 'local-gates', '1-pre-merge-flood.log');
    const text = readFileSync(log, 'utf8');
    assert.ok(text.length <= 64 * 1024 + 200, `log of ${text.length} bytes`);
    assert.ok(
      text
        .trimEnd()
        .endsWith(
          'work-milestone: stopped: what the gate left running wrote more than 64 KiB (defaults.max-output) to this log',
        ),
      text.slice(-200),
    );
  } finally {
    r.cleanup();
  }
});

test('--from-ref/--to-ref judge the change A...B; wrong refs and flags are bad input (exit 2, one line)', async () => {
  const { r, marks } = await gatesRepo();
  try {
    const env = { MARKS: marks };
    await git(r.dir, 'switch', '-q', '-c', 'topic');
    writeFileSync(path.join(r.dir, 'src', 'b.txt'), 'b\n');
    await git(r.dir, 'add', '-A');
    await git(r.dir, 'commit', '-qm', 'src change');
    const range = await runInProcess('gates', ['--from-ref', 'main', '--to-ref', 'topic'], { cwd: r.dir, env });
    assert.is(range.code, 0, range.stderr);
    assert.equal(ran(marks), ['always', 'src']);
    // A deletion is a change too: the gate checks the whole checkout.
    await git(r.dir, 'rm', '-q', 'README.md');
    await git(r.dir, 'commit', '-qm', 'no readme');
    const deleted = await runInProcess('gates', ['--from-ref', 'topic~1', '--to-ref', 'topic'], { cwd: r.dir, env });
    assert.is(deleted.code, 0, deleted.stderr);
    assert.equal(ran(marks), ['always', 'docs']);

    for (const [args, pattern] of [
      [['--from-ref', 'main'], /^--from-ref and --to-ref go together/],
      [['--from-ref', 'main', '--to-ref', 'nope'], /^--to-ref "nope" is not a commit of /],
      [['--all-files', '--from-ref', 'main', '--to-ref', 'topic'], /^--all-files and --from-ref\/--to-ref exclude/],
    ] as const) {
      const bad = await runInProcess('gates', args, { cwd: r.dir, env });
      assert.is(bad.code, 2, `${args.join(' ')}: ${bad.stdout}${bad.stderr}`);
      assert.match(bad.stderr, /^[^\n]+\n$/);
      assert.match(bad.stderr, pattern);
    }
    assert.equal(ran(marks), []);
  } finally {
    r.cleanup();
  }
});

/** `git commit` from a fresh shell: a bare environment (no npx, no node on PATH unless /usr/bin has one). */
function commitFromFreshShell(dir: string, home: string, message: string, extra: readonly string[] = []) {
  return runProcess(
    '/usr/bin/env',
    ['-i', `HOME=${home}`, 'PATH=/usr/bin:/bin', ...extra, 'git', 'commit', '-qm', message],
    { cwd: dir },
  );
}

test('the installed hook blocks a commit when a gate is red and lets a green one through; uninstall removes it', async () => {
  const { r, marks } = await gatesRepo();
  try {
    const home = path.join(r.root, 'home');
    mkdirSync(home);
    // The hook's gates see MARKS only through the file the gate reads: a fresh shell has no MARKS.
    writeFileSync(
      path.join(r.dir, 'plan', 'milestone-7-dispatch.yaml'),
      gatesPlan().replaceAll('$MARKS', marks.replaceAll('"', '')),
    );
    await git(r.dir, 'commit', '-qam', 'plan with marks');
    const installed = await runInProcess('gates', ['--install-hook'], { cwd: r.dir });
    assert.is(installed.code, 0, installed.stderr);
    const hook = path.join(r.dir, '.git', 'hooks', 'pre-commit');
    assert.match(installed.stdout, new RegExp(`^installed the pre-commit hook ${hook}: `));

    writeFileSync(path.join(r.dir, 'src', 'bad.txt'), 'bad\n');
    await git(r.dir, 'add', 'src/bad.txt');
    const head = await git(r.dir, 'rev-parse', 'HEAD');
    const blocked = await commitFromFreshShell(r.dir, home, 'bad');
    assert.is.not(blocked.code, 0, `the commit went through: ${blocked.stdout}${blocked.stderr}`);
    assert.match(blocked.stderr, /gate "src-check" failed with exit 1/);
    assert.is(await git(r.dir, 'rev-parse', 'HEAD'), head);
    assert.equal(ran(marks), ['src']);

    await git(r.dir, 'rm', '-q', '--cached', 'src/bad.txt');
    rmSync(path.join(r.dir, 'src', 'bad.txt'));
    writeFileSync(path.join(r.dir, 'src', 'good.txt'), 'good\n');
    await git(r.dir, 'add', 'src/good.txt');
    const passed = await commitFromFreshShell(r.dir, home, 'good');
    assert.is(passed.code, 0, passed.stderr);
    assert.is(await git(r.dir, 'log', '-1', '--format=%s'), 'good');
    assert.equal(ran(marks), ['always', 'src']);

    // Inside a run's agents (WORK_MILESTONE_CHILD=1) the hook does nothing: the run's gates step judges their work.
    writeFileSync(path.join(r.dir, 'src', 'bad.txt'), 'bad\n');
    await git(r.dir, 'add', 'src/bad.txt');
    const agentCommit = await commitFromFreshShell(r.dir, home, 'by an agent', ['WORK_MILESTONE_CHILD=1']);
    assert.is(agentCommit.code, 0, agentCommit.stderr);
    assert.equal(ran(marks), []);

    // Installing again rewrites our own hook; uninstalling removes it, and then there is nothing to remove.
    assert.is((await runInProcess('gates', ['7', '--install-hook'], { cwd: r.dir })).code, 0);
    assert.match(readFileSync(hook, 'utf8'), / 'gates' '7'\n$/);
    const removed = await runInProcess('gates', ['--uninstall-hook'], { cwd: r.dir });
    assert.is(removed.stdout, `removed the pre-commit hook ${hook}\n`);
    assert.not.ok(existsSync(hook));
    const again = await runInProcess('gates', ['--uninstall-hook'], { cwd: r.dir });
    assert.is(again.code, 0);
    assert.match(again.stdout, /^no pre-commit hook at /);
  } finally {
    r.cleanup();
  }
});

test('a hook work-milestone did not write is never replaced nor removed; core.hooksPath is where the hook goes', async () => {
  const { r } = await gatesRepo();
  try {
    const foreign = path.join(r.dir, '.git', 'hooks', 'pre-commit');
    writeFileSync(foreign, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    for (const flag of ['--install-hook', '--uninstall-hook']) {
      const refused = await runInProcess('gates', [flag], { cwd: r.dir });
      assert.is(refused.code, 2, refused.stdout);
      assert.match(refused.stderr, /^[^\n]+\n$/);
      assert.match(refused.stderr, /is a pre-commit hook work-milestone did not write; left as it is/);
      assert.is(readFileSync(foreign, 'utf8'), '#!/bin/sh\nexit 0\n');
    }
    // core.hooksPath, relative: to the working tree's root.
    await git(r.dir, 'config', 'core.hooksPath', '.githooks');
    const installed = await runInProcess('gates', ['--install-hook'], { cwd: path.join(r.dir, 'src') });
    assert.is(installed.code, 0, installed.stderr);
    assert.ok(existsSync(path.join(r.dir, '.githooks', 'pre-commit')));
    assert.is(readFileSync(foreign, 'utf8'), '#!/bin/sh\nexit 0\n');
    // The hook runs in a fresh shell too (git passes it nothing of this process), and names no tsx loader.
    const text = readFileSync(path.join(r.dir, '.githooks', 'pre-commit'), 'utf8');
    assert.match(text, /^node='\/[^']+'$/m);
    assert.match(text, /^exec "\$node" '\/[^']+\/bin\/work-milestone\.mjs' 'gates'$/m);
  } finally {
    r.cleanup();
  }
});

test.run();
