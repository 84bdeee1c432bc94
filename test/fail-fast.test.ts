/**
 * `run --fail-fast` under both schedules: the first item that fails for good stops scheduling. The run's outcome says
 * so (exit 3 and the reason), no agent starts after it, and an agent already running is driven to its end. #2 holds
 * its slot until the test has seen #1 fail (a release file), so #3 certainly waits for a slot when #1 fails.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, makeRepo, readEvents, readStateFile, startCli, tempDir } from './support/fixture.ts';
import { waitFor } from './support/wave-rig.ts';

const AGENT = [
  'if [ "$WM_ISSUE" = 1 ]; then exit 1; fi',
  'if [ "$WM_ISSUE" = 2 ]; then i=0; until [ -e "$RELEASE" ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i + 1)); done; fi',
  COMMITTING_AGENT,
].join('; ');

for (const schedule of ['waves', 'dag'] as const) {
  test(`${schedule}: --fail-fast stops at the first failed item; a running agent ends, no new one starts`, async () => {
    const release = path.join(tempDir('wm-ff-'), 'release');
    const repo = await makeRepo({
      plan: `milestone: {number: 7, title: "Fail fast"}
waves:
  - wave: 1
    items: [{issue: 1, title: "F"}, {issue: 2, title: "Slow"}, {issue: 3, title: "Late"}]
  - wave: 2
    items: [{issue: 4, title: "Next"}]
defaults: {agent: command, command: ${JSON.stringify(AGENT)}, timeout: 90s, retries: 0, concurrency: 2}
`,
      items: ['F', 'Slow', 'Late', 'Next'].map((title, i) => ({ issue: i + 1, title })),
    });
    const child = startCli('run', ['7', '--repo', repo.dir, '--no-push', '--fail-fast', '--schedule', schedule], {
      env: { RELEASE: release },
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    try {
      await waitFor(
        '#1 failed',
        () => {
          try {
            return readEvents(repo).some((e) => e.type === 'item' && e.issue === 1 && e.status === 'failed');
          } catch {
            return false;
          }
        },
        60_000,
      ).finally(() => writeFileSync(release, ''));
      assert.is(await code, 3, stderr);
      assert.match(stderr, /stopped at the first failed item \(--fail-fast\)/);
      const st = readStateFile(repo).items;
      assert.is(st['1'].status, 'failed');
      assert.is(st['2'].status, 'complete', 'the running agent was driven to its end');
      assert.is(st['3']?.status ?? 'pending', 'pending', 'no agent started after the failure');
      assert.is(st['4']?.status ?? 'pending', 'pending');
      const spawned = readEvents(repo)
        .filter((e) => e.type === 'agent-spawned')
        .map((e) => e.issue)
        .sort();
      assert.equal(spawned, [1, 2]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      repo.cleanup();
      rmSync(path.dirname(release), { recursive: true, force: true });
    }
  });
}

test.run();
