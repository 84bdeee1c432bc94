/** Guards (resilience issue): what no agent may do fails its item, whatever it reports; the rest of the wave lands. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, readStateFile, ROOT } from './support/fixture.ts';
import { rigItems, rigPlan, run, show, type RigItem } from './support/wave-rig.ts';

const cmd = (sh: string) => ({ command: sh });
const commit = (what: string) => `${what} && git add -A && git commit -qm "work $WM_ISSUE"`;
const report = (status = 'COMPLETE', branch = '$WM_BRANCH') => `printf 'STATUS: ${status}\\nBRANCH: %s\\n' "${branch}"`;
const CHECKOUT = '"$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")"';

test('agents that break the rules fail; a report for another branch is only flagged; the good item lands', async () => {
  const waves: RigItem[][] = [
    [
      { issue: 1, title: 'Good', extra: cmd(`${commit('echo good > good.txt')} && ${report()}`) },
      { issue: 3, title: 'Hoarder', extra: cmd(`${commit('head -c 52428800 /dev/zero > big.bin')} && ${report()}`) },
      {
        issue: 4,
        title: 'Marker',
        extra: cmd(`${commit("printf '<<<<<<< HEAD\\na\\n=======\\nb\\n>>>>>>> other\\n' > m.txt")} && ${report()}`),
      },
      {
        issue: 5,
        title: 'Liar',
        extra: cmd(`${commit('echo l > l.txt')} && ${report('COMPLETE', 'work/7-99-elsewhere')}`),
      },
      { issue: 6, title: 'Shot', extra: cmd('kill -9 $$') },
      {
        issue: 7,
        title: 'Leftovers',
        extra: cmd(`${commit('echo k > k.txt')} && echo dirty > dirty.txt && ${report()}`),
      },
    ],
    // Alone in its wave, so the write is surely its own: edits the user's checkout (found through the common git
    // dir), then commits its own work and says COMPLETE. The guard blames a write on other agents whose window
    // (±1 s) holds its mtime; wave 1's ended before this agent started, so the write is dated 2 s on, past them,
    // instead of sleeping a second.
    [
      {
        issue: 2,
        title: 'Trespasser',
        extra: cmd(
          `echo hacked >> ${CHECKOUT}/README.md; touch -d "@$(($(date +%s) + 2))" ${CHECKOUT}/README.md; ${commit('echo t > t.txt')} && ${report()}`,
        ),
      },
    ],
  ];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'true', extra: { timeout: '30s', retries: 0 } }),
    items: rigItems(waves),
  });
  try {
    const r = await run(repo);
    assert.is(r.code, 3, show(r));
    const items = readStateFile(repo).items;
    assert.is(items['1'].status, 'complete');
    // A change in the user's checkout may be the user's own edit: reported with the item, never a failure.
    assert.is(items['2'].status, 'complete', JSON.stringify(items['2']));
    assert.ok(
      items['2'].result.flags.some((f: string) =>
        /^the user's checkout .* changed while this agent ran .*: README\.md$/.test(f),
      ),
      items['2'].result.flags.join('\n'),
    );
    assert.is(items['3'].status, 'failed');
    assert.is(items['3'].failure, 'commits files over 10 MiB: big.bin (50.0 MiB)');
    assert.is(items['4'].status, 'failed');
    assert.is(items['4'].failure, 'commits conflict markers in m.txt');
    assert.is(items['5'].status, 'complete', 'git is the truth: its branch has its commit');
    assert.ok(items['5'].result.flags.some((f: string) => f.startsWith('report names branch work/7-99-elsewhere')));
    assert.is(items['6'].status, 'failed');
    assert.match(items['6'].failure, /^exited 137/);
    assert.is(items['7'].status, 'complete');
    assert.ok(
      items['7'].result.flags.some((f: string) =>
        f.includes('uncommitted changes left in the worktree (never merged): dirty.txt'),
      ),
    );
    // Merged: the good work; never the failed items' commits nor the leftovers. Landing stops: the checkout is dirty.
    const tree = await git(repo.dir, 'ls-tree', '-r', '--name-only', 'milestone/7-wave-rig');
    assert.match(r.stderr, /has uncommitted changes \(README\.md\); commit or stash them, then run again to land/);
    assert.is(await git(repo.dir, 'rev-list', '--count', 'main'), '1', 'nothing landed on main');
    for (const f of ['good.txt', 'l.txt', 'k.txt', 't.txt']) assert.ok(tree.split('\n').includes(f), `${f} merged`);
    for (const f of ['big.bin', 'm.txt', 'dirty.txt'])
      assert.not.ok(tree.split('\n').includes(f), `${f} must not land`);
  } finally {
    repo.cleanup();
  }
});

test('no step runs a forbidden git command (push --force, branch -D, stash drop, reset --hard outside the integration worktree)', () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name));
      else if (/\.(ts|mts)$/.test(e.name)) files.push(path.join(dir, e.name));
    }
  };
  walk(path.join(ROOT, 'tasks'));
  walk(path.join(ROOT, 'scripts'));
  const offenders: string[] = [];
  for (const file of files) {
    // Comments may name what the code never does.
    const text = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !/^\s*(\/\/|\*|\/\*\*)/.test(l))
      .join('\n');
    if (/'push'[^\n]*'(--force|-f|--force-with-lease)'|push --force|push -f\b/.test(text))
      offenders.push(`${file}: force push`);
    if (/'branch',\s*'-D'|branch -D/.test(text)) offenders.push(`${file}: branch -D`);
    if (/'stash',\s*'drop'|stash drop/.test(text)) offenders.push(`${file}: stash drop`);
    const resets = [...text.matchAll(/git\(([^,]+),\s*\['reset'[^\]]*'--hard'/g)].map((m) => m[1]);
    // The integration worktree, and the bisection's scratch worktree (the runner's own, detached): nobody's work.
    for (const cwd of resets)
      if (!/wt\(ctx\)|integrationWorktree|^scratch$/.test(cwd ?? '')) offenders.push(`${file}: reset --hard in ${cwd}`);
  }
  assert.equal(offenders, []);
  assert.ok(files.length > 30, `read ${files.length} files`);
});

test.run();
