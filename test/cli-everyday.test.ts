/**
 * Everyday commands (README, commands table): `list` (not started, running with the runner's pid, needs attention,
 * landed), `reset` (refuses while a runner holds the lock, asks unless --yes, stops a live agent, keeps an unmerged
 * branch and names it), `--version` on every command, and the bash/zsh completion scripts (sourced in a real bash).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMAND_NAMES } from '../tasks/cli/help.ts';
import {
  COMMITTING_AGENT,
  git,
  itemMarkdown,
  makeRepo,
  readStateFile,
  refExists,
  ROOT,
  show,
  snapshotRepo,
  tempDir,
  type TestRepo,
} from './support/fixture.ts';
import { runInProcess, runProcess, startCli, TSX, watch } from './support/cli.ts';
import { commandDefaults, planYaml } from './support/plan.ts';
import { isAlive, killQuietly } from './support/processes.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';

const run = promisify(execFile);
const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

test('--version on every command (in process) and on a script and the bin (processes): the package version', async () => {
  for (const command of COMMAND_NAMES) {
    const r = await runInProcess(command, ['--version']);
    assert.is(r.code, 0, `${command}: ${show(r)}`);
    assert.is(r.stdout, `${VERSION}\n`, command);
    assert.is(r.stderr, '');
  }
  const [script, bin] = await Promise.all([
    runProcess(process.execPath, ['--import', TSX, path.join(ROOT, 'scripts', 'list.mts'), '--version']),
    runProcess(process.execPath, [path.join(ROOT, 'bin', 'work-milestone.mjs'), 'reset', '--version']),
  ]);
  assert.is(script.stdout, `${VERSION}\n`, show(script));
  assert.is(bin.stdout, `${VERSION}\n`, show(bin));
});

test('completion bash: a complete -F script bash can source; r<TAB> proposes run and reset, steps, flags, plans', async () => {
  const dir = tempDir('wm-completion-');
  try {
    const out = await runInProcess('completion', ['bash']);
    assert.is(out.code, 0, show(out));
    assert.match(out.stdout, /\ncomplete -F _work_milestone work-milestone\n/);
    const script = path.join(dir, 'work-milestone.bash');
    writeFileSync(script, out.stdout);
    // A repository with two plans, completed from a subfolder: milestone numbers come from the top's plan/.
    await git(dir, 'init', '-q');
    mkdirSync(path.join(dir, 'plan'));
    mkdirSync(path.join(dir, 'src'));
    for (const n of [7, 12]) writeFileSync(path.join(dir, 'plan', `milestone-${n}-dispatch.yaml`), '');
    const complete = async (...words: string[]): Promise<string[]> => {
      const body = `source ${JSON.stringify(script)}; COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')}); COMP_CWORD=${words.length - 1}; _work_milestone; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const { stdout } = await run('bash', ['-c', body], { cwd: path.join(dir, 'src') });
      return stdout.split('\n').filter(Boolean);
    };
    assert.equal(await complete('work-milestone', 'r'), ['run', 'reset']);
    assert.equal(await complete('work-milestone', 'l'), ['list']);
    assert.equal(await complete('work-milestone', 'step', 'me'), ['merge']);
    assert.equal(await complete('work-milestone', 'step', 'merge', ''), ['12', '7']);
    assert.equal(await complete('work-milestone', 'run', ''), ['12', '7']);
    assert.equal(await complete('work-milestone', 'run', '7', '--conc'), ['--concurrency']);
    assert.equal(await complete('work-milestone', 'run', '7', '--schedule', ''), ['waves', 'dag']);
    assert.equal(await complete('work-milestone', 'completion', ''), ['bash', 'zsh']);
    const zsh = await runInProcess('completion', ['zsh']);
    assert.is(zsh.code, 0);
    assert.match(zsh.stdout, /^# work-milestone completion \(zsh\)[^\n]*\nautoload -U \+X compinit && compinit\n/);
    assert.match(zsh.stdout, /autoload -U \+X bashcompinit && bashcompinit\n_work_milestone\(\) \{/);
    assert.match(zsh.stdout, /\ncomplete -F _work_milestone work-milestone\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The repository of the list/reset scenario: milestone 7 (two items, #2's agent waits on a file) and milestone 8. */
async function scenarioRepo(release: string): Promise<TestRepo> {
  const agent = `if [ "$WM_ISSUE" = 2 ]; then ${shWaitForFile(release)}; fi\n${COMMITTING_AGENT}`;
  const items = [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
  ];
  const repo = await makeRepo({
    plan: planYaml({ title: 'Reset me', waves: [{ items }], defaults: commandDefaults(agent) }),
    items,
  });
  writeFileSync(
    path.join(repo.dir, 'plan', 'milestone-8-dispatch.yaml'),
    planYaml({
      milestone: 8,
      title: 'Eight',
      waves: [{ items: [{ issue: 9, title: 'Nine' }] }],
      defaults: commandDefaults(COMMITTING_AGENT),
    }),
  );
  writeFileSync(path.join(repo.dir, 'plan', 'backlog', '9.md'), itemMarkdown(8, { issue: 9, title: 'Nine' }));
  await git(repo.dir, 'add', '-A');
  await git(repo.dir, 'commit', '-qm', 'milestone 8');
  return repo;
}

test('list and reset: running (pid), refusals, needs attention, reset stops the agent and keeps the unmerged branch', async () => {
  const release = path.join(tempDir('wm-release-'), 'go');
  const repo = await scenarioRepo(release);
  const list = async (): Promise<string> => {
    const r = await runInProcess('list', ['--repo', repo.dir]);
    assert.is(r.code, 0, show(r));
    return r.stdout;
  };
  let agentPid = 0;
  try {
    const eight = await runInProcess('run', ['8', '--repo', repo.dir]);
    assert.is(eight.code, 0, show(eight));
    const landed = (await git(repo.dir, 'rev-parse', 'main')).slice(0, 10);
    assert.is(
      await list(),
      'milestone 7: not started  (plan/milestone-7-dispatch.yaml)\n' +
        `milestone 8: landed (${landed})  (plan/milestone-8-dispatch.yaml)\n`,
    );

    const json = await runInProcess('list', ['--repo', repo.dir, '--json']);
    assert.equal(JSON.parse(json.stdout), {
      milestones: [
        { milestone: '7', plan: 'plan/milestone-7-dispatch.yaml', state: { kind: 'not started' } },
        {
          milestone: '8',
          plan: 'plan/milestone-8-dispatch.yaml',
          state: { kind: 'landed', sha: await git(repo.dir, 'rev-parse', 'main') },
        },
      ],
    });

    const runner = watch(startCli('run', ['7', '--repo', repo.dir]));
    const state = await waitFor('#1 complete and #2 running', () => {
      if (runner.ended()) throw new Error(`the runner ended:\n${runner.stderr()}`);
      const s = existsSync(path.join(repo.stateDir, 'state.json')) ? readStateFile(repo) : null;
      return s?.items?.['1']?.status === 'complete' && s.items['2']?.process?.pid ? s : undefined;
    });
    agentPid = state.items['2'].process.pid as number;
    assert.ok(isAlive(agentPid));
    assert.match(await list(), new RegExp(`^milestone 7: running \\(runner pid ${runner.child.pid}\\) `));

    const before = await snapshotRepo(repo.dir);
    const refused = await runInProcess('reset', ['7', '--yes', '--repo', repo.dir]);
    assert.is(refused.code, 2, show(refused));
    assert.is(
      refused.stderr,
      `milestone 7 is being run by pid ${runner.child.pid} (run 7); stop it first (Ctrl-C, or kill ${runner.child.pid}), then reset\n`,
    );
    assert.is(await snapshotRepo(repo.dir), before);

    // The runner dies; its agent lives on.
    runner.child.kill('SIGKILL');
    await runner.done;
    assert.ok(isAlive(agentPid), 'the agent outlives its runner');
    assert.match(await list(), /^milestone 7: needs attention: stopped before landing \(1 of 2 item\(s\) done\) /);

    const unasked = await runInProcess('reset', ['7', '--repo', repo.dir]);
    assert.is(unasked.code, 2, show(unasked));
    assert.is(
      unasked.stderr,
      'reset of milestone 7 not confirmed (no TTY, or answered no); nothing changed; to reset without the question: npx zx scripts/reset.mts 7 --yes\n',
    );
    assert.ok(isAlive(agentPid));
    assert.ok(existsSync(repo.stateDir));

    assert.ok(await refExists(repo.dir, 'refs/work-milestone/7/items/1'), '#1 is pinned once judged');
    // Uncommitted work in #2's worktree: kept, with its branch.
    writeFileSync(path.join(repo.dir, 'worktrees', '7-2-two', 'wip.txt'), 'by hand\n');
    const reset = await runInProcess('reset', ['7', '--yes', '--repo', repo.dir]);
    assert.is(reset.code, 0, show(reset));
    await waitFor('the agent stopped', () => !isAlive(agentPid), 10_000);
    const unmerged = (await git(repo.dir, 'rev-list', '--count', 'work/7-1-one', '^main')).trim();
    assert.is(unmerged, '1');
    assert.is(
      reset.stdout,
      [
        'reset milestone 7: stopped the agents of #2; state forgotten (.git/work-milestone/milestone-7)',
        'removed worktrees: worktrees/7-1-one, worktrees/milestone-7',
        'deleted merged branches: milestone/7-reset-me',
        'kept: worktree worktrees/7-2-two (uncommitted changes: wip.txt); work/7-1-one (1 commit(s) not on main); work/7-2-two (its worktree is kept)',
        'the next `npx zx scripts/run.mts 7` starts milestone 7 afresh',
        '',
      ].join('\n'),
    );
    assert.ok(await refExists(repo.dir, 'refs/heads/work/7-1-one'), 'the unmerged branch is kept');
    assert.ok(await refExists(repo.dir, 'refs/heads/work/7-2-two'), 'the branch of the kept worktree is kept');
    assert.is(readFileSync(path.join(repo.dir, 'worktrees', '7-2-two', 'wip.txt'), 'utf8'), 'by hand\n');
    assert.not.ok(await refExists(repo.dir, 'refs/heads/milestone/7-reset-me'));
    assert.not.ok(existsSync(repo.stateDir), 'the state folder is gone');
    assert.is(await git(repo.dir, 'worktree', 'list', '--porcelain').then((o) => o.split('worktree ').length - 1), 2);
    assert.not.ok(await refExists(repo.dir, 'refs/work-milestone/7/items/1'), 'the pin its kept branch holds is gone');
    assert.match(await list(), /^milestone 7: not started /);
  } finally {
    writeFileSync(release, '');
    if (agentPid) killQuietly(-agentPid);
    repo.cleanup();
    rmSync(path.dirname(release), { recursive: true, force: true });
  }
});

test.run();
