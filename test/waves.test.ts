/**
 * Wave execution through the real CLI (docs/steps.md): every step of two waves run one by one with `step.mts`, each
 * twice; real git repositories, real `command` agents in sh that commit; the user's checkout is never touched.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPORT_FORMAT } from '../tasks/agents/prompt.ts';
import { git, makeRepo, readEvents, readStateFile, snapshotRepo, tempDir, type TestRepo } from './support/fixture.ts';
import {
  COUNTING_AGENT,
  linesOf,
  rigItems,
  rigPlan,
  run,
  show,
  step,
  waitFor,
  type RigItem,
} from './support/wave-rig.ts';
import { runInProcess } from './support/cli.ts';

const WAVES: ReadonlyArray<readonly RigItem[]> = [
  [
    { issue: 1, title: 'Tokenizer' },
    { issue: 2, title: 'CLI flags' },
    { issue: 3, title: 'Docs page' },
  ],
  [
    { issue: 4, title: 'Ranking', dependsOn: [1] },
    { issue: 5, title: 'Flag help', dependsOn: [2] },
    { issue: 6, title: 'Docs index', dependsOn: [1, 3] },
  ],
];
const BRANCH = 'milestone/7-wave-rig';
const slug = (t: string) => t.toLowerCase().replace(/\s+/g, '-');
const itemBranch = (i: RigItem) => `work/7-${i.issue}-${slug(i.title)}`;

/** Refs of the repository, one `name sha` a line. */
const refs = (dir: string) => git(dir, 'for-each-ref', '--format=%(refname) %(objectname)');

/**
 * Run one step twice: the first (the real script) must succeed and (when `changes`) do something; the second must
 * skip it, change no ref, no byte of state.json, and start no agent. The second runs in this process: the same
 * command without another process start (each costs a second or more).
 */
async function stepTwice(
  repo: TestRepo,
  counter: string,
  name: string,
  extra: readonly string[] = [],
  settle?: () => Promise<unknown>,
): Promise<void> {
  const env = { COUNTER: counter };
  const first = await step(repo, name, extra, env);
  assert.is(first.code, 0, `${name} ${extra.join(' ')}: ${show(first)}`);
  // Agents spawned by the first run go on working (and committing) after it exits: let them end first.
  await settle?.();
  const refsBefore = await refs(repo.dir);
  const stateBefore = readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8');
  const startsBefore = linesOf(counter).length;
  const eventsBefore = readEvents(repo).length;
  const second = await runInProcess('step', [name, '7', '--repo', repo.dir, ...extra], { env });
  assert.is(second.code, 0, `${name} again: ${show(second)}`);
  assert.is(await refs(repo.dir), refsBefore, `${name} again moved refs`);
  assert.is(
    readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'),
    stateBefore,
    `${name} again changed state.json`,
  );
  assert.is(linesOf(counter).length, startsBefore, `${name} again started agents`);
  const events = readEvents(repo).slice(eventsBefore);
  const kinds = events.filter((e) => e.type.startsWith('step-')).map((e) => e.type);
  assert.ok(
    kinds.length > 0 && kinds.every((k) => k === 'step-skip'),
    `${name} again: step events ${JSON.stringify(kinds)}`,
  );
  assert.not.ok(
    events.some((e) => e.type === 'agent-spawned'),
    `${name} again spawned an agent`,
  );
}

test('two waves of three items, step by step, each step twice: branches, state, relay, prompts; the checkout untouched', async () => {
  const gates = 'quality-gates:\n  pre-merge: ["test -f README.md"]\n  post-merge: [{name: suite, run: "true"}]';
  const repo = await makeRepo({
    plan: rigPlan(WAVES, { command: COUNTING_AGENT, top: gates }),
    items: rigItems(WAVES),
  });
  const counter = path.join(tempDir('wm-counter-'), 'starts');
  try {
    const statusBefore = await git(repo.dir, 'status', '--porcelain', '--untracked-files=all');
    const headBefore = readFileSync(path.join(repo.dir, '.git', 'HEAD'), 'utf8');
    const mainBefore = await git(repo.dir, 'rev-parse', 'main');
    const snapBefore = await snapshotRepo(repo.dir);

    for (const name of ['validate', 'prepare', 'branch', 'fetch']) await stepTwice(repo, counter, name);
    let state = readStateFile(repo);
    // A clean tree needs no prepare: nothing stashed, nothing recorded but maybe `clean`.
    assert.ok(state.prepare === null || state.prepare.kind === 'clean', JSON.stringify(state.prepare));
    assert.is(state.branch.name, BRANCH);
    assert.is(state.branch.base, mainBefore);
    assert.equal(Object.keys(state.cache).sort(), ['1', '2', '3', '4', '5', '6']);
    assert.match(readFileSync(path.join(repo.dir, '.git', 'info', 'exclude'), 'utf8'), /^\/worktrees\/$/m);

    const integrationHeads: string[] = [];
    for (const [w, items] of WAVES.entries()) {
      const wave = ['--wave', String(w + 1)];
      await stepTwice(repo, counter, 'worktrees', wave);
      const integration = await git(repo.dir, 'rev-parse', BRANCH);
      for (const item of items) {
        const dir = path.join(repo.dir, 'worktrees', `7-${item.issue}-${slug(item.title)}`);
        assert.is(await git(dir, 'symbolic-ref', '--short', 'HEAD'), itemBranch(item));
        assert.is(
          await git(repo.dir, 'rev-parse', itemBranch(item)),
          integration,
          `#${item.issue} starts at integration HEAD`,
        );
        const lock = JSON.parse(readFileSync(path.join(dir, '.claude', 'kage-bunshin.lock'), 'utf8'));
        assert.is(lock.item, item.issue);
        assert.ok(lock.session_id && lock.parent_pid && lock.spawned_at && lock.model, JSON.stringify(lock));
      }
      const exitFiles = items.map((i) => path.join(repo.stateDir, 'items', String(i.issue), 'item-1.exit'));
      await stepTwice(repo, counter, 'spawn', wave, () =>
        waitFor('the agents to exit', () => exitFiles.every((f) => existsSync(f))),
      );
      await stepTwice(repo, counter, 'wait', wave);
      state = readStateFile(repo);
      for (const item of items) {
        const st = state.items[String(item.issue)];
        assert.is(st.status, 'complete', `#${item.issue}: ${JSON.stringify(st)}`);
        assert.is(st.attempts, 1);
        assert.is(st.base, integration);
        const log = await git(repo.dir, 'log', '--format=%H %s', `${integration}..${itemBranch(item)}`);
        assert.is(log.split('\n').length, 1, `#${item.issue}: ${log}`);
        assert.is(log.slice(41), `item ${item.issue}`);
        assert.equal(st.result.commits, [{ sha: log.slice(0, 40), subject: `item ${item.issue}` }]);
        assert.equal(st.result.files, [`item-${item.issue}.txt`]);
        assert.equal(st.result.flags, []);
      }
      await stepTwice(repo, counter, 'merge', wave);
      await stepTwice(repo, counter, 'relay', wave);
      state = readStateFile(repo);
      const head = await git(repo.dir, 'rev-parse', BRANCH);
      integrationHeads.push(head);
      for (const item of items) {
        await git(repo.dir, 'merge-base', '--is-ancestor', itemBranch(item), BRANCH);
        assert.ok(state.items[String(item.issue)].merge.sha, `#${item.issue} merge recorded`);
      }
      // The relay in the seed's exact format, commits and files from git.
      const expected = ['## Prior Wave Results', `### Wave ${w + 1} Results`];
      for (const item of items) {
        const sha = (await git(repo.dir, 'rev-parse', itemBranch(item))).slice(0, 7);
        expected.push(
          `#### Item: #${item.issue} — ${item.title}`,
          '- Status: COMPLETE',
          `- Files changed: item-${item.issue}.txt`,
          '- Key commits:',
          `  - ${sha}: item ${item.issue}`,
          `- Design notes: wrote item-${item.issue}.txt`,
        );
      }
      assert.fixture(
        readFileSync(path.join(repo.stateDir, 'relay', `wave-${w + 1}.md`), 'utf8'),
        `${expected.join('\n')}\n`,
      );
    }
    // The prompts: item, worktree, branch, gates, the report format; wave 2's carry wave 1's relay.
    const relay1 = readFileSync(path.join(repo.stateDir, 'relay', 'wave-1.md'), 'utf8');
    for (const item of WAVES.flat()) {
      const prompt = readFileSync(path.join(repo.stateDir, 'items', String(item.issue), 'prompt-1.md'), 'utf8');
      const wave = item.issue <= 3 ? 1 : 2;
      assert.match(prompt, `You are working on Issue #${item.issue}: ${item.title} (milestone 7, wave ${wave}).`);
      assert.match(
        prompt,
        `Your git worktree is ${path.join(repo.dir, 'worktrees', `7-${item.issue}-${slug(item.title)}`)}, on branch ${itemBranch(item)}.`,
      );
      assert.match(prompt, `## Description\nDo ${item.title}.\n\n## Acceptance Criteria\n- it is done\n`);
      assert.match(prompt, 'make them pass:\n- test -f README.md\n- true\n');
      assert.match(prompt, '\nSTATUS: COMPLETE | PARTIAL | FAILED\nBRANCH: <branch>\nFILES_CHANGED:\n');
      assert.match(prompt, /\nNOTES: <[^>]+>\n$/);
      assert.not.match(prompt, 'Previous attempt');
      if (wave === 1) assert.not.match(prompt, '## Prior Wave Results');
      else assert.match(prompt, relay1.trim());
    }
    // One start per item, no more.
    assert.equal(linesOf(counter).sort(), ['1', '2', '3', '4', '5', '6']);
    // Wave 2 started from integration after wave 1's merges.
    for (const item of WAVES[1] ?? [])
      await git(repo.dir, 'merge-base', '--is-ancestor', integrationHeads[0] as string, itemBranch(item));

    // The user's checkout: same status and HEAD; refs only gained our branches; worktrees only ours.
    assert.is(await git(repo.dir, 'status', '--porcelain', '--untracked-files=all'), statusBefore);
    assert.is(readFileSync(path.join(repo.dir, '.git', 'HEAD'), 'utf8'), headBefore);
    assert.is(await git(repo.dir, 'rev-parse', 'main'), mainBefore);
    const newRefs = (await git(repo.dir, 'for-each-ref', '--format=%(refname)'))
      .split('\n')
      .filter((r) => r !== 'refs/heads/main')
      .sort();
    // Our branches, and the pins of the judged tips (what the merge queue merges).
    assert.equal(
      newRefs,
      [
        `refs/heads/${BRANCH}`,
        ...WAVES.flat().flatMap((i) => [`refs/heads/${itemBranch(i)}`, `refs/work-milestone/7/items/${i.issue}`]),
      ].sort(),
    );
    assert.is(await git(repo.dir, 'stash', 'list'), '');
    const worktrees = (await git(repo.dir, 'worktree', 'list', '--porcelain'))
      .split('\n')
      .filter((l) => l.startsWith('worktree '))
      .map((l) => l.slice(9));
    const wtDir = (i: RigItem) => path.join(repo.dir, 'worktrees', `7-${i.issue}-${slug(i.title)}`);
    assert.equal(
      worktrees.sort(),
      [repo.dir, path.join(repo.dir, 'worktrees', 'milestone-7'), ...WAVES.flat().map(wtDir)].sort(),
    );
    // snapshotRepo: status, refs, stashes, worktrees, HEAD. All that was there is still there, unchanged; only ours
    // were added.
    const [status0, refs0, stash0, wts0, head0] = snapBefore.split('\n---\n');
    const [status1, refs1, stash1, wts1, head1] = (await snapshotRepo(repo.dir)).split('\n---\n');
    assert.equal([status1, stash1, head1], [status0, stash0, head0]);
    for (const line of (refs0 ?? '').split('\n')) assert.ok(refs1?.split('\n').includes(line), `ref changed: ${line}`);
    assert.ok(wts1?.startsWith(wts0 ?? '?'), `the main worktree entry changed:\n${wts1}`);
  } finally {
    repo.cleanup();
    rmSync(path.dirname(counter), { recursive: true, force: true });
  }
});

const ONE_WAVE: ReadonlyArray<readonly RigItem[]> = [[{ issue: 1, title: 'Only' }]];
const ABORT =
  'Aborting: working tree is dirty (3 path(s): README.md, staged.txt, scratch.txt); commit or stash your changes and re-run, or re-run with --yes to have them stashed: npx zx scripts/run.mts 7 --yes';

/** Dirty the user's checkout: a tracked change, a staged new file, an untracked file. */
function dirty(repo: TestRepo): void {
  writeFileSync(path.join(repo.dir, 'README.md'), '# test repo\nlocal edit\n');
  writeFileSync(path.join(repo.dir, 'staged.txt'), 'staged\n');
  writeFileSync(path.join(repo.dir, 'scratch.txt'), 'untracked\n');
}

test('dirty tree, no TTY and no --yes: run and step prepare exit 2 with the exact sentence; nothing changed', async () => {
  const repo = await makeRepo({ plan: rigPlan(ONE_WAVE, { command: COUNTING_AGENT }), items: rigItems(ONE_WAVE) });
  try {
    dirty(repo);
    await git(repo.dir, 'add', 'staged.txt');
    const before = await snapshotRepo(repo.dir);
    const first = await run(repo);
    assert.is(first.code, 2, show(first));
    assert.is(first.stderr.trim().split('\n').pop(), ABORT, show(first));
    assert.not.match(first.stderr, /\n\s+at /, 'a stack trace');
    assert.is(await snapshotRepo(repo.dir), before);
    assert.is(readStateFile(repo).prepare, null);
    assert.is(readStateFile(repo).branch, null);
    const r = await step(repo, 'prepare');
    assert.is(r.code, 2, show(r));
    assert.is(r.stderr.trim().split('\n').pop(), ABORT);
    assert.is(await snapshotRepo(repo.dir), before);
  } finally {
    repo.cleanup();
  }
});

test('dirty tree with --yes: stashed with untracked files; the stash sha recorded and still listed; twice is a no-op', async () => {
  const repo = await makeRepo({ plan: rigPlan(ONE_WAVE, { command: COUNTING_AGENT }), items: rigItems(ONE_WAVE) });
  try {
    dirty(repo);
    await git(repo.dir, 'add', 'staged.txt');
    assert.is((await step(repo, 'validate')).code, 0);
    const r = await step(repo, 'prepare', ['--yes']);
    assert.is(r.code, 0, show(r));
    assert.is(await git(repo.dir, 'status', '--porcelain', '--untracked-files=all'), '');
    const prep = readStateFile(repo).prepare;
    assert.is(prep.kind, 'stashed');
    assert.is(prep.branch, 'main');
    const list = await git(repo.dir, 'stash', 'list', '--format=%H %gs');
    assert.is(list, `${prep.sha} On main: work-milestone: pre-run main`);
    // The stash holds the tracked edit, the staged file and (third parent) the untracked one.
    assert.is(await git(repo.dir, 'show', `${prep.sha}:README.md`), '# test repo\nlocal edit');
    assert.is(await git(repo.dir, 'show', `${prep.sha}:staged.txt`), 'staged');
    assert.is(await git(repo.dir, 'show', `${prep.sha}^3:scratch.txt`), 'untracked');
    // Twice: nothing stashed again (the tree is clean now and the stash is recorded).
    const again = await step(repo, 'prepare', ['--yes']);
    assert.is(again.code, 0, show(again));
    assert.is(await git(repo.dir, 'stash', 'list', '--format=%H %gs'), list);
    assert.equal(readStateFile(repo).prepare, prep);
  } finally {
    repo.cleanup();
  }
});

test('prompt-template with {{placeholders}}; worktree-root outside the repo; node_modules linked, never committed', async () => {
  const template = [
    '#{{issue}} "{{title}}" m{{milestone}} w{{wave}}',
    'WT={{worktree}} BR={{ branch }}',
    'DESC={{description}}',
    'AC={{acceptance_criteria}}',
    'GATES={{gates}}',
    'RELAY={{relay}}',
    'PREV={{previous_failure}}',
    'KEEP={{no_such_key}} {{ISSUE}}',
    '{{report_format}}',
    '',
  ].join('\n');
  const waves: RigItem[][] = [[{ issue: 1, title: 'First' }], [{ issue: 2, title: 'Second', dependsOn: [1] }]];
  const top = 'quality-gates: {pre-merge: ["test -e README.md"], post-merge: []}';
  // A careless agent: `git add -A` takes whatever is in the worktree.
  const agent = `test -L node_modules && test -e node_modules/dep/index.js || exit 7; echo "$WM_ISSUE" >> "$COUNTER"; printf x > "f-$WM_ISSUE.txt" && git add -A && git commit -qm "item $WM_ISSUE" && printf 'STATUS: COMPLETE\\n'`;
  const repo = await makeRepo({
    plan: rigPlan(waves, {
      command: agent,
      extra: { timeout: '30s', retries: 0, 'prompt-template': 'plan/prompt.md', 'worktree-root': '../wt' },
      top,
    }),
    items: rigItems(waves),
    files: { 'plan/prompt.md': template, '.gitignore': 'node_modules/\n' },
  });
  mkdirSync(path.join(repo.dir, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(path.join(repo.dir, 'node_modules', 'dep', 'index.js'), '');
  const counter = path.join(tempDir('wm-counter-'), 'starts');
  try {
    const statusBefore = await git(repo.dir, 'status', '--porcelain', '--untracked-files=all', '--ignored');
    const r = await run(repo, [], { COUNTER: counter });
    assert.is(r.code, 0, show(r));
    const wt = (issue: number, title: string) => path.join(repo.root, 'wt', `7-${issue}-${title.toLowerCase()}`);
    const relay1 = readFileSync(path.join(repo.stateDir, 'relay', 'wave-1.md'), 'utf8');
    const prompt = (issue: number) =>
      readFileSync(path.join(repo.stateDir, 'items', String(issue), 'prompt-1.md'), 'utf8');
    const expected = (issue: number, title: string, wave: number, relay: string) =>
      [
        `#${issue} "${title}" m7 w${wave}`,
        `WT=${wt(issue, title)} BR=work/7-${issue}-${title.toLowerCase()}`,
        `DESC=Do ${title}.`,
        'AC=- it is done',
        'GATES=- test -e README.md',
        `RELAY=${relay}`,
        'PREV=',
        'KEEP={{no_such_key}} {{ISSUE}}',
        REPORT_FORMAT,
        '',
      ].join('\n');
    assert.fixture(prompt(1), expected(1, 'First', 1, ''));
    assert.fixture(prompt(2), expected(2, 'Second', 2, relay1));
    // Worktrees lived outside the repository: the checkout saw nothing (not even ignored files) come or go.
    assert.is(await git(repo.dir, 'status', '--porcelain', '--untracked-files=all', '--ignored'), statusBefore);
    assert.not.ok(existsSync(path.join(repo.dir, 'worktrees')));
    // The agents had node_modules (a link to the repo's), and neither it nor the agent lock was committed.
    assert.equal(linesOf(counter), ['1', '2']);
    const state = readStateFile(repo);
    for (const issue of ['1', '2']) {
      const files = (
        await git(repo.dir, 'show', '--name-only', '--format=', state.items[issue].result.commits[0].sha)
      ).split('\n');
      assert.equal(files, [`f-${issue}.txt`]);
      assert.equal(state.items[issue].result.uncommitted, []);
    }
    assert.equal(
      (await git(repo.dir, 'ls-tree', '-r', '--name-only', 'main'))
        .split('\n')
        .filter((f) => /node_modules|\.claude/.test(f)),
      [],
    );
  } finally {
    repo.cleanup();
    rmSync(path.dirname(counter), { recursive: true, force: true });
  }
});

test('a prompt-template that does not exist: exit 2 naming it, before anything is created', async () => {
  const repo = await makeRepo({
    plan: rigPlan(ONE_WAVE, { command: COUNTING_AGENT, extra: { 'prompt-template': 'plan/nope.md' } }),
    items: rigItems(ONE_WAVE),
  });
  try {
    const before = await snapshotRepo(repo.dir);
    const r = await run(repo);
    assert.is(r.code, 2, show(r));
    assert.is(
      r.stderr.trim().split('\n').pop(),
      'plan/milestone-7-dispatch.yaml: defaults.prompt-template plan/nope.md does not exist (paths are relative to the repository)',
    );
    assert.is(await snapshotRepo(repo.dir), before);
  } finally {
    repo.cleanup();
  }
});

test.run();
