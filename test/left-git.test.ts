/**
 * A runner killed by SIGKILL leaves its git children running (a merge or commit in the integration worktree): the
 * runner that takes over its stale lock waits for them before it works there (a real git blocked on its stdin stands
 * for one; the test ends it only after seeing the runner wait). A git killed by SIGPIPE when it wrote to the dead
 * runner
 * leaves new files without the index: the merge cleans them away instead of refusing the item.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { collect, runInProcess, show, startCli } from './support/cli.ts';
import { COMMITTING_AGENT, git, makeRepo, readEvents, type TestRepo } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';
import { waitFor } from './support/wait.ts';

/** A pid that cannot be running: above the default pid_max (2^22). */
const DEAD_PID = 4_194_305;
const ITEMS = [{ issue: 1, title: 'One' }];

const WAVE_STEPS = new Set(['worktrees', 'spawn', 'wait']);

/** A one-item milestone with `steps` done (each in process, the wave steps for wave 1). */
async function repoAfter(steps: readonly string[]): Promise<TestRepo> {
  const plan = planYaml({
    title: 'Left git',
    waves: [{ items: ITEMS }],
    defaults: { agent: 'command', retries: 0, command: COMMITTING_AGENT },
  });
  const repo = await makeRepo({ plan, items: ITEMS });
  for (const step of steps) {
    const wave = WAVE_STEPS.has(step) ? ['--wave', '1'] : [];
    const r = await runInProcess('step', [step, '7', '--repo', repo.dir, ...wave]);
    assert.is(r.code, 0, `${step}: ${show(r)}`);
  }
  return repo;
}

test("a runner taking over a killed one's lock waits for the git it left in the integration worktree", async () => {
  // As the killed runner left it: the integration worktree made, its lock file still there.
  const repo = await repoAfter(['validate', 'prepare', 'branch']);
  let orphan: ReturnType<typeof spawn> | null = null;
  try {
    const integration = path.join(repo.dir, 'worktrees', 'milestone-7');
    assert.ok(existsSync(integration));
    writeFileSync(
      path.join(repo.stateDir, 'run.lock'),
      `${JSON.stringify({ pid: DEAD_PID, startTime: '1', startedAt: '2026-01-01T00:00:00.000Z', command: 'run 7' })}\n`,
    );
    // Its git, still at work there: blocked on stdin until the test closes it.
    orphan = spawn('git', ['hash-object', '--stdin'], { cwd: integration, stdio: ['pipe', 'ignore', 'ignore'] });
    const pid = orphan.pid as number;

    const run = collect(startCli('run', ['7', '--repo', repo.dir]));
    const waiting = `waiting for git ${pid} (left by the previous runner in worktrees/milestone-7) to end`;
    await waitFor('the runner waiting for the git left behind', () =>
      readEvents(repo).some((e) => e.type === 'notice' && e.message === waiting),
    );
    // Nothing after the notice while that git runs: the runner has not touched the worktree.
    assert.is(readEvents(repo).at(-1)?.message, waiting);
    orphan.stdin?.end('x\n');
    const done = await run;
    assert.is(done.code, 0, show(done));
    assert.is(await git(repo.dir, 'show', 'main:item-1.txt'), '1');
  } finally {
    orphan?.kill('SIGKILL');
    repo.cleanup();
  }
});

test('files a killed git left untracked in the integration worktree do not stop the merge: they are cleaned away', async () => {
  const repo = await repoAfter(['validate', 'prepare', 'branch', 'fetch', 'worktrees', 'spawn', 'wait']);
  try {
    // What a git merge killed by SIGPIPE leaves: the item's new file written, the index not (no merge in progress).
    const integration = path.join(repo.dir, 'worktrees', 'milestone-7');
    writeFileSync(path.join(integration, 'item-1.txt'), '1\n');
    const done = await runInProcess('run', ['7', '--repo', repo.dir]);
    assert.is(done.code, 0, show(done));
    assert.is(await git(repo.dir, 'show', 'main:item-1.txt'), '1');
    assert.ok((await git(repo.dir, 'log', '--format=%s', 'main')).split('\n').includes('Merge #1: One'));
  } finally {
    repo.cleanup();
  }
});

test.run();
