/**
 * `agent-job` cancelled (a deleted Job's SIGTERM, a cancelled workflow run): the agent's process group is stopped and
 * nothing is pushed, so a dying pod never races the next attempt's push of the same branch. The real bin in a clone
 * of a bare origin, a real SIGTERM.
 */
import { existsSync, readFileSync } from 'node:fs';
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

test.run();
