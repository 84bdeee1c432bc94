/**
 * A disk that fills up while a milestone runs (an agent's build output, a log): the runner stops with one sentence
 * that says so, leaves no half-written file of its own, and the same command goes on once there is room. The
 * repository lives on a small tmpfs of its own (mounted by the test: CI runs as root), which the agent fills.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig } from './support/agent-rig.ts';
import { runInProcess, show } from './support/cli.ts';
import { git, readStateFile, tempDir } from './support/fixture.ts';

/** Every file under `dir` whose name says it is one of the runner's temp files. */
function tempFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.tmp'));
}

test('a full disk stops the run with one clear sentence (exit 1); freed, the same command lands the milestone', async () => {
  const mount = tempDir('wm-full-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount]);
  const before = process.env.TMPDIR;
  try {
    // The rig's folders (repository, agent script) go on the small disk.
    process.env.TMPDIR = mount;
    const fill = path.join(mount, 'fill.bin');
    const r = await makeAgentRig({
      title: 'Full disk',
      items: [
        { issue: 1, title: 'Alpha' },
        { issue: 2, title: 'Beta' },
      ],
      // #1 commits, then fills the disk once (its first attempt's result is lost with it); a retry only reports.
      body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) if [ ! -e "$FILL.once" ]; then echo alpha > a.txt; commit alpha; : > "$FILL.once"; head -c 100000000 /dev/zero > "$FILL" 2>/dev/null; fi; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
*) exit 9;;
esac`,
      defaults: { retries: 1 },
    });
    const args = ['7', '--repo', r.repo.dir, '--yes', '--no-push'];
    const env = { FILL: fill, TMPDIR: mount };
    const full = await runInProcess('run', args, { env });
    assert.is(full.code, 1, show(full));
    const last = full.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(last, /^the disk is full: ENOSPC: no space left on device/, show(full));
    assert.match(last, /free some space, then run the same command again/);
    assert.not.match(full.stderr, /internal error/);
    assert.equal(tempFiles(r.repo.stateDir), [], 'no temp file of the runner left');
    rmSync(fill);
    const again = await runInProcess('run', args, { env });
    assert.is(again.code, 0, show(again));
    const st = readStateFile(r.repo);
    assert.is(st.items['1'].status, 'complete');
    assert.is(st.items['2'].status, 'complete');
    const onMain = (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    assert.ok(onMain.includes('a.txt') && onMain.includes('b.txt'), onMain.join(' '));
    assert.equal(tempFiles(r.repo.stateDir), []);
    r.cleanup();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    execFileSync('umount', ['-l', mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});

test.run();
