/**
 * An agent that puts a program into the git config for the runner's merges to run (docs/guarantees.md, 7): a smudge
 * filter that "fixes" a file when the merge checks it out and a clean filter that hides that from `git status` would
 * let the gates pass on files the commits do not hold. The runner stops before its next merge (exit 3), nothing
 * merges or lands; once the config is back as it was, the run goes on and the gates see the commits' files.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeAgentRig, type AgentRig } from './support/agent-rig.ts';
import { git, readEvents, readStateFile } from './support/fixture.ts';
import { runCli, runInProcess, show, type CliResult } from './support/cli.ts';

const FILTER_AGENT = `case "$WM_ROLE:$WM_ISSUE" in
item:1)
  git config filter.FixUp.smudge "sed s/BUG/OK/"
  git config filter.FixUp.clean "sed s/OK/BUG/"
  printf 'a.txt filter=FixUp\\n' > .gitattributes
  echo BUG > a.txt
  commit "alpha"; report COMPLETE;;
*) exit 9;;
esac`;

const rig = () =>
  makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: FILTER_AGENT,
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -q BUG a.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    origin: true,
  });

const run = (dir: string, ...flags: string[]) => runInProcess('run', ['7', '--repo', dir, '--yes', ...flags]);

/** The merge state recorded for item 1 (null: not merged). */
const mergedSha = (r: AgentRig) => readStateFile(r.repo).items['1'].merge?.sha ?? null;

/**
 * `run` in a process of its own whose global git config (and its agents') is a file holding `text`: the runner's git
 * reads its own process's environment.
 */
async function runWithGlobalConfig(r: AgentRig, text: string): Promise<{ result: CliResult; global: string }> {
  const global = path.join(r.tools, 'global.gitconfig');
  writeFileSync(global, text);
  const result = await runCli('run', ['7', '--repo', r.repo.dir, '--yes'], { env: { GIT_CONFIG_GLOBAL: global } });
  return { result, global };
}

test('an agent sets a smudge and a clean filter: exit 3 before the merge, nothing merged or landed; without them the gates see BUG', async () => {
  const r = await rig();
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(
      first.stderr,
      /the git config changed since the milestone started: filter\.FixUp\.clean, filter\.FixUp\.smudge/,
    );
    assert.match(
      first.stderr,
      new RegExp(`git config --file ${path.join(r.repo.dir, '.git', 'config')} --remove-section filter\\.FixUp`),
    );
    const state = readStateFile(r.repo);
    assert.is(state.items['1'].status, 'complete', 'the item itself was judged as usual');
    assert.is(state.items['1'].merge?.sha ?? null, null, 'merged past the guard');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main);
    // The item is flagged with what it changed (the judge's report of the git setup).
    assert.ok(
      state.items['1'].result.flags.some((f: string) => /filter\.FixUp\.smudge/.test(f)),
      JSON.stringify(state.items['1'].result.flags),
    );
    // The same stop on a run again: the config is still there.
    const again = await run(r.repo.dir);
    assert.is(again.code, 3, show(again));
    // The user removes what they did not set: the merge goes on, and the gate checks the committed BUG.
    // The user runs the command the message gives (the subsection's case kept: git's names for it are case-sensitive).
    const undo = /undo what you did not set \(git (config [^)]+)\)/.exec(again.stderr)?.[1] ?? '';
    await git(r.repo.dir, ...undo.split(' '));
    assert.not.match(await git(r.repo.dir, 'config', '--list'), /filter\.FixUp/);
    const third = await run(r.repo.dir);
    assert.is.not(third.code, 0, show(third));
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'a red tree landed');
    const gates = readEvents(r.repo).filter((e) => e.type === 'gate' && e.name === 'no-bug');
    assert.ok(gates.length > 0 && gates.every((e) => e.exitCode !== 0), JSON.stringify(gates));
  } finally {
    r.cleanup();
  }
});

test('an agent that also removes the trusted record does not get its filter trusted: the runner held it', async () => {
  const r = await makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: FILTER_AGENT.replace(
      'item:1)',
      'item:1)\n  rm -f "$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone/milestone-7/git-config-trusted.json"',
    ),
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -q BUG a.txt' }] },
    defaults: { 'max-fix-attempts': 1 },
    origin: true,
  });
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(first.stderr, /the git config changed since the milestone started: filter\.FixUp\.clean/);
    assert.is(mergedSha(r), null, 'merged past the guard');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main);
    const notices = readEvents(r.repo).filter(
      (e) =>
        e.type === 'notice' && /git-config-trusted\.json was changed or removed while the runner ran/.test(e.message),
    );
    assert.is(notices.length, 1, show(first));
  } finally {
    r.cleanup();
  }
});

test('an agent writes .git/info/attributes (merge=union): exit 3 before the merge; removed, the run lands', async () => {
  // `merge=union` would make every conflict of the runner's merges a "clean" merge of both sides' lines.
  const r = await makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) d=$(git rev-parse --path-format=absolute --git-common-dir); mkdir -p "$d/info"
  echo '* merge=union' > "$d/info/attributes"; echo alpha > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    origin: true,
  });
  try {
    const attributes = path.join(r.repo.dir, '.git', 'info', 'attributes');
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(first.stderr, `${attributes} changed since the milestone started`);
    assert.match(first.stderr, `look with: cat ${attributes}`);
    assert.is(mergedSha(r), null, 'merged past the guard');
    rmSync(attributes);
    const again = await run(r.repo.dir);
    assert.is(again.code, 0, show(again));
    assert.ok(readStateFile(r.repo).land, 'landed');
  } finally {
    r.cleanup();
  }
});

test('an agent turns on commit signing with a program of its own: exit 3 before the merge, the program never runs', async () => {
  // The runner's merge commits would run it (one that never ends held every merge for git's whole time limit).
  const r = await makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) printf '#!/bin/sh\\necho ran > "%s/signer-ran"\\nexit 1\\n' "$tools" > "$tools/signer"; chmod +x "$tools/signer"
  echo alpha > a.txt; commit alpha; git config commit.gpgsign true; git config gpg.program "$tools/signer"; report COMPLETE;;
*) exit 9;;
esac`,
    origin: true,
  });
  try {
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(first.stderr, /^the git config changed since the milestone started: commit\.gpgsign, gpg\.program /m);
    assert.match(first.stderr, "git runs these programs in the runner's merges, commits, fetches and pushes");
    assert.is(mergedSha(r), null, 'merged past the guard');
    assert.not.ok(existsSync(path.join(r.tools, 'signer-ran')), 'the program ran');
    await git(r.repo.dir, 'config', '--unset', 'commit.gpgsign');
    await git(r.repo.dir, 'config', '--unset', 'gpg.program');
    const again = await run(r.repo.dir);
    assert.is(again.code, 0, show(again));
    assert.ok(readStateFile(r.repo).land, 'landed');
    assert.not.ok(existsSync(path.join(r.tools, 'signer-ran')), 'the program ran');
  } finally {
    r.cleanup();
  }
});

test("an agent points the integration worktree's core.worktree elsewhere: exit 3 before the merge; unset, it lands", async () => {
  // git in that worktree would then merge into, look at and put back another folder, while the gates run in its own.
  // Once: the item's next attempts are honest.
  const r = await makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) if [ ! -e "$tools/elsewhere" ]; then mkdir "$tools/elsewhere"; git config extensions.worktreeConfig true
  git -C ../milestone-7 config --worktree core.worktree "$tools/elsewhere"; fi
  echo "alpha $WM_ATTEMPT" > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    origin: true,
  });
  try {
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(first.stderr, /the git config changed since the milestone started: core\.worktree/);
    assert.match(first.stderr, 'it moves where git in the integration worktree reads and writes files');
    assert.is(mergedSha(r), null, 'merged past the guard');
    const undo = /undo what you did not set \(git (config [^)]+)\)/.exec(first.stderr)?.[1] ?? '';
    assert.match(undo, /--unset-all core\.worktree$/);
    await git(r.repo.dir, ...undo.split(' '));
    const again = await run(r.repo.dir);
    assert.is(again.code, 0, show(again));
    assert.ok(readStateFile(r.repo).land, 'landed');
  } finally {
    r.cleanup();
  }
});

test('an agent adds its base commit to .git/shallow: exit 3 before the merge; removed, the run lands', async () => {
  // git then takes that commit as one without parents: merges find an older base, or none.
  const r = await makeAgentRig({
    title: 'Hostile config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) git rev-parse HEAD >> "$(git rev-parse --path-format=absolute --git-common-dir)/shallow"
  echo alpha > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    origin: true,
  });
  try {
    const shallow = path.join(r.repo.dir, '.git', 'shallow');
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(
      first.stderr,
      `${shallow} changed since the milestone started; the commits it gained lose their parents`,
    );
    assert.is(mergedSha(r), null, 'merged past the guard');
    rmSync(shallow);
    const again = await run(r.repo.dir);
    assert.is(again.code, 0, show(again));
    assert.ok(readStateFile(r.repo).land, 'landed');
  } finally {
    r.cleanup();
  }
});

test('--adopt keeps a changed filter (a notice names it) and the run goes on', async () => {
  const r = await rig();
  try {
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    const adopted = await run(r.repo.dir, '--adopt');
    assert.not.match(adopted.stderr, /the git config changed since the milestone started/, show(adopted));
    const notices = readEvents(r.repo).filter(
      (e) => e.type === 'notice' && /^--adopt: keeping the git config/.test(e.message),
    );
    assert.is(notices.length, 1, show(adopted));
    assert.match(notices[0].message, /filter\.FixUp\.clean, filter\.FixUp\.smudge/);
    assert.ok(readStateFile(r.repo).items['1'].merge?.sha, 'merged after --adopt');
    // The user chose to keep it: the filter runs in the merge's checkout, and the gate passes.
    assert.is(adopted.code, 0, show(adopted));
  } finally {
    r.cleanup();
  }
});

test('an agent points origin at a fork whose main has a commit of its own: exit 3 before anything is brought in', async () => {
  const r = await makeAgentRig({
    title: 'Hostile origin',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1)
  fork="$(git rev-parse --path-format=absolute --git-common-dir)/fork.git"
  git clone -q --bare "$(git remote get-url origin)" "$fork"
  git clone -q "$fork" "$fork-work"
  (cd "$fork-work" && echo evil > evil.txt && git add evil.txt && git -c user.name=x -c user.email=x@y commit -qm evil \\
    && GIT_CONFIG_COUNT=0 git push -q origin HEAD:main)
  git remote set-url origin "$fork"
  echo alpha > a.txt; commit alpha; report COMPLETE;;
*) exit 9;;
esac`,
    origin: true,
  });
  try {
    const main = await git(r.repo.dir, 'rev-parse', 'main');
    const first = await run(r.repo.dir);
    assert.is(first.code, 3, show(first));
    assert.match(first.stderr, /the git config changed since the milestone started: remote\.origin\.url \(in /);
    assert.match(first.stderr, /they change where the runner fetches origin's main from/);
    assert.match(first.stderr, /git remote set-url origin <the URL it had>/);
    const fork = path.join(r.repo.dir, '.git', 'fork.git');
    assert.is(await git(fork, 'log', '-1', '--format=%s', 'main'), 'evil', 'the agent made its fork');
    assert.is(await git(r.repo.dir, 'rev-parse', 'main'), main, 'main moved');
    assert.is(mergedSha(r), null, 'merged past the guard');
    const integration = await git(r.repo.dir, 'ls-tree', '-r', '--name-only', 'milestone/7-hostile-origin');
    assert.not.ok(integration.split('\n').includes('evil.txt'), "the fork's main was brought in");
  } finally {
    r.cleanup();
  }
});

test('a filter set in the global git config (the one the runner reads) stops the run the same way, naming that file', async () => {
  const r = await makeAgentRig({
    title: 'Hostile global config',
    items: [{ issue: 1, title: 'Alpha' }],
    body: FILTER_AGENT.replace(/git config filter/g, 'git config --global filter'),
    gates: { 'post-merge': [{ name: 'no-bug', run: '! grep -q BUG a.txt' }] },
    origin: true,
  });
  try {
    const { result, global } = await runWithGlobalConfig(r, '[user]\n\tname = Test\n\temail = test@example.com\n');
    assert.is(result.code, 3, show(result));
    assert.match(result.stderr, `filter.FixUp.clean, filter.FixUp.smudge (in ${global})`);
    assert.match(result.stderr, `git config --file ${global} --remove-section filter.FixUp`);
    assert.is(mergedSha(r), null, 'merged past the guard');
  } finally {
    r.cleanup();
  }
});

test('the same filter copied into another config file (git lfs install --local over a global one) is not a change', async () => {
  const r = await makeAgentRig({
    title: 'Same filter',
    items: [{ issue: 1, title: 'Alpha' }],
    body: `case "$WM_ROLE:$WM_ISSUE" in
item:1) git config filter.same.smudge cat; git config filter.same.clean cat; echo alpha > a.txt; commit alpha; report COMPLETE;;
esac`,
    origin: true,
  });
  try {
    const { result } = await runWithGlobalConfig(r, '[filter "same"]\n\tsmudge = cat\n\tclean = cat\n');
    assert.is(result.code, 0, show(result));
    assert.is(
      await git(r.repo.dir, 'config', '--file', path.join(r.repo.dir, '.git', 'config'), 'filter.same.smudge'),
      'cat',
    );
    assert.is(await git(r.repo.dir, 'show', 'main:a.txt'), 'alpha');
  } finally {
    r.cleanup();
  }
});

test.run();
