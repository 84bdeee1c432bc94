/**
 * A failure to start is not an attempt (docs/errors.md): an item worktree removed mid-run (by its own agent, or while
 * the agent waits on a file the test creates) is recreated from the item branch for the retry, and the item completes;
 * an agent program that cannot be found is bad input (exit 2) naming it and what sets it, every run, and never
 * counted as an attempt. Real runners and `command` agents.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, readEvents, tempDir } from './support/fixture.ts';
import { run, show, waitFor } from './support/wave-rig.ts';
import { assertLanded, itemDir, makeRig, startRunner, stateOf } from './support/converge-rig.ts';

const ONE = [[{ issue: 1, title: 'One' }]];

test('an agent that removes its own worktree: the retry recreates it from the item branch (lock file again) and the item completes', async () => {
  const agent = `if [ "$WM_ATTEMPT" = 1 ]; then cd / && rm -rf "$WM_WORKTREE"; echo "removed my worktree" >&2; exit 1; fi; ${COMMITTING_AGENT}`;
  const rig = await makeRig({ waves: ONE, command: agent, extra: 'timeout: 60s\nretries: 1' });
  try {
    const r = await run(rig.repo, [], rig.env);
    await assertLanded(rig, r, [1]);
    assert.match(
      r.stderr,
      /#1: its worktree \S+7-1-one was missing \(removed during a run\?\); recreated it on work\/7-1-one/,
    );
    const item = stateOf(rig.repo).items['1'];
    assert.is(item.attempts, 2, JSON.stringify(item));
    assert.equal(
      readEvents(rig.repo)
        .filter((e) => e.type === 'agent-spawned')
        .map((e) => e.attempt),
      [1, 2],
    );
  } finally {
    rig.cleanup();
  }
});

test('a worktree removed by someone else while its agent waits: that attempt fails, the retry gets the worktree back, the item completes', async () => {
  const gate = tempDir('wm-gate-');
  const waiting = path.join(gate, 'waiting');
  const release = path.join(gate, 'release');
  const agent = `if [ "$WM_ATTEMPT" = 1 ]; then echo "$PWD" > "${waiting}"; while [ ! -f "${release}" ]; do sleep 0.05; done; fi; ${COMMITTING_AGENT}`;
  const rig = await makeRig({ waves: ONE, command: agent, extra: 'timeout: 60s\nretries: 1' });
  try {
    const runner = startRunner(rig);
    await waitFor('the agent to wait', () => existsSync(waiting), 30_000);
    const dir = itemDir(rig.repo, 1);
    rmSync(dir, { recursive: true, force: true });
    writeFileSync(release, '');
    const r = await runner.done;
    await assertLanded(rig, r, [1]);
    assert.match(r.stderr, /#1: its worktree \S+ was missing/);
    const item = stateOf(rig.repo).items['1'];
    assert.is(item.attempts, 2, JSON.stringify(item));
    assert.not.ok(r.stderr.includes('spawn sh ENOENT'), r.stderr);
  } finally {
    writeFileSync(release, '');
    rig.cleanup();
    rmSync(gate, { recursive: true, force: true });
  }
});

test('an agent program that is not there: exit 2 naming it and CLAUDE_BIN / --agent, every run, no attempt counted; the right agent then lands', async () => {
  const rig = await makeRig({ waves: ONE });
  try {
    const missing = path.join(rig.repo.root, 'no-such-dir', 'claude');
    for (let i = 0; i < 2; i++) {
      const r = await run(rig.repo, ['--agent', 'claude'], { ...rig.env, CLAUDE_BIN: missing });
      assert.is(r.code, 2, show(r));
      assert.not.match(r.stderr, /^\s+at /m);
      assert.ok(
        r.stderr.endsWith(
          `the claude agent cannot start: its program ${missing} was not found; set CLAUDE_BIN to its path or put it on PATH, or choose another agent with --agent\n`,
        ),
        r.stderr,
      );
      const item = stateOf(rig.repo).items['1'];
      assert.equal(
        [item.status, item.attempts, item.process],
        ['pending', 0, null],
        `run ${i + 1}: ${JSON.stringify(item)}`,
      );
      assert.not.ok(
        readEvents(rig.repo).some((e) => e.type === 'agent-spawned'),
        'an agent was spawned',
      );
      assert.not.ok(existsSync(path.join(rig.repo.stateDir, 'items', '1', 'item-1.pid')), 'a process was started');
    }
    const r = await run(rig.repo, [], rig.env);
    await assertLanded(rig, r, [1]);
    assert.is(stateOf(rig.repo).items['1'].attempts, 1);
    assert.equal(rig.starts(), ['1']);
    assert.ok(await git(rig.repo.dir, 'log', '--oneline', '-1', 'main'));
  } finally {
    rig.cleanup();
  }
});

test.run();
