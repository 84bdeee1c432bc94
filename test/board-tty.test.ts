/**
 * The live board (tasks/engine/run-tree.ts) in a real terminal: the CLI runs inside tmux, and the test reads the
 * screen (`tmux capture-pane -p`) while the agents run: each running item with its elapsed time and its agent's last
 * output line, the summary line; after Ctrl-C (sent as keys to the terminal), the agents shown as still running, never
 * done. `command` agents wait on a file the test creates; every wait is a bounded poll of the screen.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, TSX } from './support/cli.ts';
import { COMMITTING_AGENT, readEvents, tempDir } from './support/fixture.ts';
import { shWaitForFile, waitFor } from './support/wait.ts';
import { makeRig, stateOf } from './support/converge-rig.ts';
import { isAlive } from './support/processes.ts';

/** A tmux server of its own (its socket in a temp folder), one session running `command` in a 120×50 terminal. */
function startTerminal(dir: string, command: string) {
  const socket = path.join(dir, 'tmux.sock');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  // No user configuration; the pane stays after its command ended, so its last screen can be read.
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'board', '-x', '120', '-y', '50', command);
  tmux('set-option', '-t', 'board', 'remain-on-exit', 'on');
  return {
    screen: () => tmux('capture-pane', '-p', '-t', 'board'),
    keys: (...keys: string[]) => tmux('send-keys', '-t', 'board', ...keys),
    kill: () => {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    },
  };
}

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

test('on a TTY: the board shows each running item with its elapsed time and last output line; after Ctrl-C the agents as still running, not done', async () => {
  try {
    execFileSync('tmux', ['-V']);
  } catch {
    assert.unreachable('tmux is not installed (apt-get install -y tmux; .ci/run installs it)');
  }
  const dir = tempDir('wm-board-');
  const release = path.join(dir, 'release');
  const exitFile = path.join(dir, 'exit');
  const rig = await makeRig({
    command: `echo "working on item $WM_ISSUE"; ${shWaitForFile(`'${release}'`)}; ${COMMITTING_AGENT}`,
  });
  // The runner as a user starts it: no CI variable, so the TTY gets the board; its exit code to a file.
  const run = [process.execPath, '--import', TSX, path.join(ROOT, 'scripts', 'run.mts'), '7', '--repo', rig.repo.dir]
    .map(shQuote)
    .join(' ');
  const term = startTerminal(
    dir,
    `cd ${shQuote(ROOT)} && env -u CI -u WM_RENDERER -u WORK_MILESTONE_CHILD -u NODE_OPTIONS COUNTER=${shQuote(rig.env.COUNTER as string)} ${run} --no-push; echo $? > ${shQuote(exitFile)}`,
  );
  try {
    // Mid-run: both items running, each with its elapsed time counting up and its agent's last line under it.
    const running = /#(\d) (One|Two): running (\d+)s \(attempt 1\)/g;
    const mid = await waitFor(
      'both items running for a second or more, with their output',
      () => {
        const screen = term.screen();
        const items = [...screen.matchAll(running)].filter((m) => Number(m[3]) >= 1).map((m) => m[1]);
        const summed = /Milestone 7: 2 running · 0 waiting · 0 done · 0 failed · \$0\.00 so far/.test(screen);
        return items.includes('1') && items.includes('2') && summed && /› working on item 2/.test(screen) && screen;
      },
      60_000,
    );
    assert.match(mid, /› working on item 1/, mid);
    assert.match(mid, /◼ Land on main/, mid);
    assert.not.match(mid, /✔ #[12]/, mid);

    term.keys('C-c');
    const after = await waitFor('the runner to end after Ctrl-C', () => existsSync(exitFile) && term.screen(), 30_000);
    assert.is(readFileSync(exitFile, 'utf8').trim(), '130', after);
    assert.match(after, /#1 One: agent still running \(attempt 1\), left alive: run again to re-attach/, after);
    assert.match(after, /#2 Two: agent still running \(attempt 1\), left alive: run again to re-attach/, after);
    assert.match(after, /↓ Wave 1: stopped; 2 agent\(s\) still running/, after);
    assert.match(after, /↓ Wave 1: agents: stopped; 2 agent\(s\) still running/, after);
    assert.match(after, /↓ Land on main: not run \(the run stopped\)/, after);
    assert.match(
      after,
      /Milestone 7: 2 running · 0 waiting · 0 done · 0 failed · \$0\.00 so far \(interrupted\)/,
      after,
    );
    // Nothing that still runs, or never ran, is shown done.
    assert.not.match(after, /✔ (#[12]|Wave 1$|Wave 1: agents|Wave 1: merge|Land on main)/m, after);
    // And the screen told the truth: the agents do run on.
    const pids = readEvents(rig.repo)
      .filter((e) => e.type === 'agent-spawned')
      .map((e) => e.pid as number);
    assert.is(pids.length, 2);
    for (const pid of pids) assert.ok(isAlive(pid), 'an agent shown running is not');
    for (const issue of ['1', '2']) assert.is(stateOf(rig.repo).items[issue].status, 'in-progress');
  } finally {
    term.kill();
    writeFileSync(release, '');
    rig.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
