/**
 * `agent-job` cancelled (a deleted Job's SIGTERM, a cancelled workflow run): the agent's process group is stopped and
 * nothing is pushed, so a dying pod never races the next attempt's push of the same branch. The agent never holds the
 * job's push credentials (actions/checkout's extra header, a token in the clone URL): its own push fails, the job's
 * pushes work. The real bin in a clone of a bare origin, a real SIGTERM.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeJobSpec } from '../tasks/executors/remote/job-spec.ts';
import { collect, startProcess } from './support/cli.ts';
import { git, makeRepo, ROOT, tempDir } from './support/fixture.ts';
import { isAlive } from './support/processes.ts';
import { waitForFile } from './support/wait.ts';

test('SIGTERM while the agent works: the agent group is stopped, nothing is pushed, exit 130', async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "Job"}\n', items: [], origin: true });
  const dir = tempDir('wm-job-');
  try {
    const pod = path.join(dir, 'pod');
    await git(dir, 'clone', '-q', repo.origin ?? '', pod);
    const [ready, pidFile, go] = ['ready', 'agent.pid', 'go'].map((f) => path.join(dir, f)) as [string, string, string];
    // It commits, says so, then works on until a file that never comes.
    const agent = `echo $$ > "$PID_FILE"; echo x > x.txt && git add x.txt && git -c user.name=a -c user.email=a@example.com commit -qm x && touch "$READY"; while [ ! -f "$GO" ]; do sleep 0.05; done`;
    const job = encodeJobSpec({
      id: 'wm-7-1-item-1',
      agent: 'command',
      file: 'sh',
      args: ['-c', agent],
      env: { PID_FILE: pidFile, READY: ready, GO: go },
      prompt: 'work',
      stdin: false,
    });
    const child = startProcess(process.execPath, [path.join(ROOT, 'bin', 'work-milestone.mjs'), 'agent-job', 'out'], {
      cwd: pod,
      env: { WM_JOB: job, WM_JOB_BRANCH: 'work/7-1-alpha' },
    });
    const ended = collect(child);
    await waitForFile(ready, 'the agent committed');
    child.kill('SIGTERM');
    const r = await ended;
    assert.is(r.code, 130, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, 'wm-7-1-item-1: cancelled; the agent was stopped and nothing was pushed');
    assert.not.ok(isAlive(Number(readFileSync(pidFile, 'utf8'))), 'the agent still runs');
    assert.is(
      await git(pod, 'ls-remote', 'origin'),
      (await git(pod, 'ls-remote', 'origin', 'HEAD', 'refs/heads/main')).trim(),
    );
    assert.not.ok(existsSync(path.join(pod, 'out', 'result.json')), 'a result was written');
  } finally {
    repo.cleanup();
  }
});

/** The refs of `dir` under `prefix`. */
async function refsOf(dir: string, prefix: string): Promise<string[]> {
  return (await git(dir, 'for-each-ref', '--format=%(refname)', prefix)).split('\n').filter(Boolean);
}

test("the agent never holds the job's push credentials: its own push to main fails, the job pushes the item branch", async () => {
  const repo = await makeRepo({ plan: 'milestone: {number: 7, title: "Job"}\n', items: [], origin: true });
  const dir = tempDir('wm-job-');
  try {
    // The remote as a clone URL with a token (a pod's WM_REMOTE_URL): only that spelling reaches the bare origin;
    // without the token it reaches nothing, as a server that wants credentials.
    const url = 'https://x-access-token:SECRET-TOKEN@git.example.invalid/repo.git';
    const globalConfig = path.join(dir, 'gitconfig');
    writeFileSync(
      globalConfig,
      `[url "${repo.origin}"]\n\tinsteadOf = ${url}\n[url "${path.join(dir, 'nowhere.git')}"]\n\tinsteadOf = https://git.example.invalid/repo.git\n`,
    );
    const env = { GIT_CONFIG_GLOBAL: globalConfig };
    const pod = path.join(dir, 'pod');
    await collect(startProcess('git', ['clone', '-q', url, pod], { cwd: dir, env }));
    // As the pod and the workflow do.
    await git(pod, 'config', 'user.name', 'work-milestone');
    await git(pod, 'config', 'user.email', 'work-milestone@users.noreply.github.com');
    // What actions/checkout leaves in the checkout: the job's token as an extra header.
    await git(
      pod,
      'config',
      '--local',
      'http.https://git.example.invalid/.extraheader',
      'AUTHORIZATION: basic SECRET-HEADER',
    );
    // And what it leaves from v6 on: the header in a file of its own, which the checkout's config includes.
    const included = path.join(dir, 'credentials.config');
    writeFileSync(
      included,
      '[http "https://git.example.invalid/"]\n\textraheader = AUTHORIZATION: basic SECRET-INCLUDED\n',
    );
    await git(pod, 'config', '--local', `includeIf.gitdir:${pod}/.git.path`, included);
    const seen = path.join(dir, 'seen');
    const agent = [
      `{ git config --local --includes --list; env; } > "${seen}"`,
      'echo x > x.txt && git add x.txt && git -c user.name=a -c user.email=a@example.com commit -qm x',
      `git push -q origin HEAD:refs/heads/main 2>/dev/null; echo "push exit $?" >> "${seen}"`,
    ].join('\n');
    const job = encodeJobSpec({
      id: 'wm-7-1-item-1',
      agent: 'command',
      file: 'sh',
      args: ['-c', agent],
      env: {},
      prompt: 'work',
      stdin: false,
    });
    const mainBefore = await git(repo.origin ?? '', 'rev-parse', 'refs/heads/main');
    const r = await collect(
      startProcess(process.execPath, [path.join(ROOT, 'bin', 'work-milestone.mjs'), 'agent-job', 'out'], {
        cwd: pod,
        env: { ...env, WM_JOB: job, WM_JOB_BRANCH: 'work/7-1-alpha', WM_REMOTE_URL: url, GIT_TERMINAL_PROMPT: '0' },
      }),
    );
    assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const agentSaw = readFileSync(seen, 'utf8');
    assert.not.match(agentSaw, 'SECRET-TOKEN', 'the agent saw the token of the clone URL');
    assert.not.match(agentSaw, 'SECRET-HEADER', 'the agent saw the extra header');
    assert.not.match(agentSaw, 'SECRET-INCLUDED', 'the agent saw the included extra header');
    assert.match(agentSaw, /push exit [1-9]/, 'the agent pushed');
    assert.is(await git(repo.origin ?? '', 'rev-parse', 'refs/heads/main'), mainBefore, 'main moved');
    const head = await git(pod, 'rev-parse', 'HEAD');
    assert.is(await git(repo.origin ?? '', 'rev-parse', 'refs/heads/work/7-1-alpha'), head);
    const result = JSON.parse(readFileSync(path.join(pod, 'out', 'result.json'), 'utf8')) as { pushed: string };
    assert.is(result.pushed, head);
    assert.equal(
      await refsOf(repo.origin ?? '', 'refs/work-milestone/results/'),
      ['refs/work-milestone/results/wm-7-1-item-1'],
      r.stderr,
    );
  } finally {
    repo.cleanup();
  }
});

test.run();
