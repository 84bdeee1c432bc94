/**
 * Compare-and-swap landing through the real CLI: the user commits to main while the gates run (the gate itself makes
 * the user's commit, so the moment is exact). main and origin only ever hold a sha whose tree passed the gates, the
 * user's checkout never has a merge in progress, and the run ends with 0 (brought in, gated again) or 3 (explained).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { COMMITTING_AGENT, git, makeRepo, runCli } from './support/fixture.ts';
import { runInProcess, show } from './support/cli.ts';
import { commandDefaults, planYaml } from './support/plan.ts';

// Run 1 (the gates step) and run 2 (land's re-run) each make a user commit on main in the user's checkout.
// The gate fails when the item's feature meets the user's incompatible note, unless a fix agent added fixed.txt.
const GATE = `set -e
n=$(cat "$TOOLS/gate-runs" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$TOOLS/gate-runs"
user() { (cd "$REPO" && echo "$2" > "$1" && git add "$1" && git commit -qm "user: $1"); }
case "$n" in
1) user user1.txt one ;;
2) if [ "$SECOND" = conflict ]; then user a.txt conflicting; else user note.txt incompatible; fi ;;
esac
if grep -qs feature a.txt && grep -qs incompatible note.txt && [ ! -f fixed.txt ]; then echo "FAIL: the feature and the incompatible note together" >&2; exit 1; fi
git rev-parse 'HEAD^{tree}' >> "$TOOLS/passed-trees"
`;

const AGENT = `case "$WM_ROLE" in
item) echo feature > a.txt; commit feature; report COMPLETE;;
fix) echo fixed > fixed.txt; commit "fix the pair"; report COMPLETE;;
esac`;

type Rig = AgentRig;

function rig(): Promise<Rig> {
  return makeAgentRig({
    title: 'Land CAS',
    items: [{ issue: 1, title: 'Feature' }],
    body: AGENT,
    gates: { 'post-merge': ['sh gate.sh'] },
    origin: true,
    files: { 'gate.sh': GATE },
  });
}

/** Every sha main ever pointed at (its reflog): each is the user's own commit or has a tree that passed the gates. */
async function assertMainOnlyHeldGated(r: Rig): Promise<void> {
  const passed = new Set(readFileSync(path.join(r.tools, 'passed-trees'), 'utf8').split('\n').filter(Boolean));
  const history = (await git(r.repo.dir, 'reflog', 'show', '--format=%H', 'refs/heads/main'))
    .split('\n')
    .filter(Boolean);
  for (const sha of new Set(history)) {
    const subject = await git(r.repo.dir, 'log', '-1', '--format=%s', sha);
    if (subject === 'initial' || subject.startsWith('user: ')) continue;
    assert.ok(
      passed.has(await git(r.repo.dir, 'rev-parse', `${sha}^{tree}`)),
      `main held ${sha.slice(0, 10)} "${subject}", whose tree never passed the gates`,
    );
  }
  const remote = await git(r.repo.origin as string, 'rev-parse', 'refs/heads/main');
  const subject = await git(r.repo.origin as string, 'log', '-1', '--format=%s', remote);
  if (subject !== 'initial' && !subject.startsWith('user: '))
    assert.ok(
      passed.has(await git(r.repo.origin as string, 'rev-parse', `${remote}^{tree}`)),
      'origin holds an ungated tree',
    );
}

async function assertCheckoutUntouched(r: Rig): Promise<void> {
  assert.is(await git(r.repo.dir, 'status', '--porcelain'), '', 'the user checkout is clean');
  assert.not.ok(existsSync(path.join(r.repo.dir, '.git', 'MERGE_HEAD')), 'no merge in progress in the user checkout');
  assert.is(await git(r.repo.dir, 'symbolic-ref', '--short', 'HEAD'), 'main');
}

test('a user commit incompatible with the milestone lands on main during the gate re-run: brought in, gated red, fixed, landed', async () => {
  const r = await rig();
  try {
    // The script's process: the landing notice is in its progress output (stdout), which only a process has.
    const res = await runCli('run', ['7', '--repo', r.repo.dir, '--yes'], {
      env: { TOOLS: r.tools, REPO: r.repo.dir, SECOND: 'incompatible' },
    });
    assert.is(res.code, 0, show(res));
    assert.ok(/moved while landing|main moved/.test(res.stdout), show(res));
    const files = (await git(r.repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    for (const f of ['a.txt', 'user1.txt', 'note.txt', 'fixed.txt'])
      assert.ok(files.includes(f), `${f} on main: ${files.join(' ')}`);
    assert.is(
      await git(r.repo.origin as string, 'rev-parse', 'main'),
      await git(r.repo.dir, 'rev-parse', 'main'),
      'origin has what main has',
    );
    // The pair without the fix (gate run 3 was red) never reached main.
    assert.ok(
      Number(readFileSync(path.join(r.tools, 'gate-runs'), 'utf8')) >= 4,
      'gated again after the second user commit',
    );
    await assertMainOnlyHeldGated(r);
    await assertCheckoutUntouched(r);
    assert.is(
      await git(r.repo.dir, 'for-each-ref', 'refs/work-milestone/'),
      '',
      'complete removed the pins of landed items',
    );
  } finally {
    r.cleanup();
  }
});

test('a user commit that conflicts with the milestone during the gate re-run: exit 3, explained, main and origin hold only gated or user shas', async () => {
  const r = await rig();
  try {
    const res = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes'], {
      env: { TOOLS: r.tools, REPO: r.repo.dir, SECOND: 'conflict' },
    });
    assert.is(res.code, 3, show(res));
    assert.match(show(res), /conflicts with milestone 7 in: a\.txt/);
    assert.is(
      await git(r.repo.dir, 'log', '-1', '--format=%s', 'main'),
      'user: a.txt',
      "main is the user's commit; nothing landed",
    );
    assert.is(await git(r.repo.origin as string, 'log', '-1', '--format=%s', 'main'), 'initial', 'nothing pushed');
    await assertMainOnlyHeldGated(r);
    await assertCheckoutUntouched(r);
    const integration = path.join(r.repo.dir, 'worktrees', 'milestone-7');
    assert.is(
      await git(integration, 'status', '--porcelain'),
      '',
      'the integration worktree has no merge left in progress',
    );
  } finally {
    r.cleanup();
  }
});

test('origin removed before landing: exit 1 saying so, nothing landed; --no-push then lands on the local main', async () => {
  // The gate removes the remote, as a user (or an agent) might while the milestone runs.
  const plan = planYaml({
    title: 'Origin gone',
    waves: [{ parallel: false, items: [{ issue: 1, title: 'One' }] }],
    gates: { 'post-merge': ['git -C "$REPO" remote remove origin 2>/dev/null; true'] },
    defaults: commandDefaults(COMMITTING_AGENT),
  });
  const repo = await makeRepo({ plan, items: [{ issue: 1, title: 'One' }], origin: true });
  try {
    const first = await runInProcess('run', ['7', '--repo', repo.dir, '--yes'], { env: { REPO: repo.dir } });
    assert.is(first.code, 1, show(first));
    assert.match(first.stderr, /the remote origin is gone \(milestone 7 started with one\); nothing was landed/);
    assert.is(await git(repo.dir, 'rev-list', '--count', 'main'), '1', 'main untouched');
    const second = await runInProcess('run', ['7', '--repo', repo.dir, '--yes', '--no-push'], {
      env: { REPO: repo.dir },
    });
    assert.is(second.code, 0, show(second));
    assert.is(await git(repo.dir, 'show', 'main:item-1.txt'), '1');
    assert.is(
      await git(repo.origin as string, 'rev-list', '--count', 'main'),
      '1',
      'origin (no longer a remote) untouched',
    );
  } finally {
    repo.cleanup();
  }
});

test('a red gate fixed by hand as its message advises (commit in the integration worktree, run again with --adopt) lands', async () => {
  const r = await makeAgentRig({
    title: 'By hand',
    items: [{ issue: 1, title: 'One' }],
    body: AGENT.replace('fix)', 'never)'),
    gates: { 'post-merge': [{ name: 'needs-fix', run: 'test -f fixed.txt' }] },
    defaults: { 'max-fix-attempts': 0 },
  });
  try {
    const first = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes']);
    assert.is(first.code, 1, show(first));
    const advice = /fix it in (\S+) and commit, then run `npx zx scripts\/run\.mts 7 --adopt`/.exec(first.stderr);
    assert.ok(advice, show(first));
    const wt = advice?.[1] as string;
    writeFileSync(path.join(wt, 'fixed.txt'), 'by hand\n');
    await git(wt, 'add', 'fixed.txt');
    await git(wt, 'commit', '-q', '-m', 'fix the gate by hand');
    const second = await runInProcess('run', ['7', '--repo', r.repo.dir, '--yes', '--adopt']);
    assert.is(second.code, 0, show(second));
    assert.is(await git(r.repo.dir, 'show', 'main:fixed.txt'), 'by hand');
  } finally {
    r.cleanup();
  }
});

test.run();
