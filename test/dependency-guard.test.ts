/**
 * Item worktrees link to the user's `node_modules`, and the gates, which run in the integration worktree inside the
 * user's checkout, resolve packages from it. An agent that edits a package there (git sees nothing: it is ignored)
 * would make the gates pass on code that fails everywhere else. The runner trusts the folder as it was before the
 * first agent: a change stops it before the gates (exit 3), and `--adopt` keeps the folder as it is then. Caches
 * tools write while they run are not watched. Agents wait on nothing; the gates are plain `node`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';

/** The checker the gate resolves from `<repo>/node_modules`: fails on a bug in src/a.txt. */
const CHECKER = `module.exports = (text) => { if (text.includes('BUG')) { console.error('BUG found'); process.exit(1); } };\n`;

/**
 * Milestone 7 with one item whose agent runs the shell `agent` before it commits, and the post-merge gate `gate`
 * (by default `node check.js`, which resolves `checker` up to the user's node_modules); with `installed`, the checker
 * is installed in the user's checkout before the milestone starts.
 */
const rig = async (agent: string, { gate = 'node check.js', installed = true } = {}) => {
  const r = await makeAgentRig({
    title: 'Shared packages',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) ${agent}; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    gates: { 'post-merge': [{ name: 'no-bug', run: gate }] },
    defaults: { 'max-fix-attempts': 0 },
    files: {
      'src/a.txt': 'OK\n',
      'check.js': `require('checker')(require('fs').readFileSync('src/a.txt', 'utf8'));\n`,
      '.gitignore': 'node_modules/\n.venv/\n',
    },
  });
  if (installed) {
    // Installed in the user's checkout, not committed.
    mkdirSync(path.join(r.repo.dir, 'node_modules', 'checker'), { recursive: true });
    writeFileSync(path.join(r.repo.dir, 'node_modules', 'checker', 'index.js'), CHECKER);
  }
  return r;
};

/** Run the milestone: it stops (exit 3) saying `said`, with nothing landed and no gate verdict recorded. */
async function runStopped(r: AgentRig, said: RegExp): Promise<void> {
  const main = await git(r.repo.dir, 'rev-parse', 'main');
  const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
  assert.is(result.code, 3, show(result));
  assert.match(result.stderr, said);
  assert.match(result.stderr, /run again with --adopt/);
  assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'nothing landed');
  assert.not.ok(readStateFile(r.repo).land, 'landed');
  assert.is(readStateFile(r.repo).gates, null, 'no gate verdict');
}

test('an agent that edits a package through its node_modules link stops the runner before the gates', async () => {
  // Through the link in its own worktree: the user's node_modules/checker.
  const r = await rig(`echo BUG > src/a.txt; echo 'module.exports = () => {};' > node_modules/checker/index.js`);
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    await runStopped(
      r,
      /node_modules changed \(node_modules\/checker\/index\.js\) since the milestone's agents started, while the agents of #1 ran; .*the runner stopped before the gates/,
    );

    // The user puts the package back and keeps the folder: the gates now see the bug.
    writeFileSync(path.join(r.repo.dir, 'node_modules', 'checker', 'index.js'), CHECKER);
    const again = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push', '--adopt']);
    assert.match(again.stderr, /gate "no-bug" \(post-merge\) still fails/, show(again));
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'the bug did not land');
    assert.ok(
      readEvents(r.repo).some(
        (e) => e.type === 'notice' && /--adopt: keeping \S+node_modules as they are now/.test(e.message),
      ),
      'said what it kept',
    );
  } finally {
    r.cleanup();
  }
});

test('caches and locks tools write through the links (.cache, .tmp, __pycache__, .venv/.lock) do not stop the runner', async () => {
  const r = await rig(
    'mkdir -p node_modules/.cache/babel node_modules/checker/__pycache__ && echo x > node_modules/.cache/babel/x.json ' +
      '&& echo y > node_modules/checker/__pycache__/y.pyc && : > .venv/.lock && mkdir -p node_modules/.tmp ' +
      '&& echo z > node_modules/.tmp/tsconfig.app.tsbuildinfo && echo fine > src/a.txt',
  );
  mkdirSync(path.join(r.repo.dir, '.venv', 'lib'), { recursive: true });
  try {
    const result = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--no-push']);
    assert.is(result.code, 0, show(result));
    assert.is(await git(r.repo.dir, 'show', 'main:src/a.txt'), 'fine', 'landed');
  } finally {
    r.cleanup();
  }
});

test('a package changed while the gates ran: their verdict is not used', async () => {
  // The gate run itself stands for anything at work meanwhile (an agent of the next wave in a dag run).
  const r = await rig('echo fine > src/a.txt', {
    gate: "node check.js && echo '// late' >> ../../node_modules/checker/index.js",
  });
  try {
    await runStopped(
      r,
      /node_modules changed \(node_modules\/checker\/index\.js\).*it changed while the gates ran, and their result is not used/,
    );
  } finally {
    r.cleanup();
  }
});

test('a node_modules that appears in the checkout after the milestone started stops the runner too', async () => {
  // No folder when the milestone starts, so none is linked: an agent writes the one the gates would find.
  const r = await rig(
    "echo BUG > src/a.txt; mkdir -p ../../node_modules/checker && echo 'module.exports = () => {};' > ../../node_modules/checker/index.js",
    { installed: false },
  );
  try {
    await runStopped(r, /node_modules appeared \(node_modules\/checker\/index\.js\)/);
  } finally {
    r.cleanup();
  }
});

test.run();
