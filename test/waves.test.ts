/**
 * Wave execution through the real CLI (DESIGN §4, §5): every step of two waves run one by one with `step.mts`, each
 * twice; real git repositories, real `command` agents in sh that commit; the user's checkout is never touched.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, readEvents, readStateFile, snapshotRepo, tempDir, type TestRepo } from './support/fixture.ts';
import { COUNTING_AGENT, linesOf, rigItems, rigPlan, show, step, waitFor, type RigItem } from './support/wave-rig.ts';

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
 * Run one step twice: the first must succeed and (when `changes`) do something; the second must skip it, change no
 * ref, no byte of state.json, and start no agent.
 */
async function stepTwice(repo: TestRepo, counter: string, name: string, extra: readonly string[] = [], settle?: () => Promise<unknown>): Promise<void> {
  const env = { COUNTER: counter };
  const first = await step(repo, name, extra, env);
  assert.is(first.code, 0, `${name} ${extra.join(' ')}: ${show(first)}`);
  // Agents spawned by the first run go on working (and committing) after it exits: let them end first.
  await settle?.();
  const refsBefore = await refs(repo.dir);
  const stateBefore = readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8');
  const startsBefore = linesOf(counter).length;
  const eventsBefore = readEvents(repo).length;
  const second = await step(repo, name, extra, env);
  assert.is(second.code, 0, `${name} again: ${show(second)}`);
  assert.is(await refs(repo.dir), refsBefore, `${name} again moved refs`);
  assert.is(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'), stateBefore, `${name} again changed state.json`);
  assert.is(linesOf(counter).length, startsBefore, `${name} again started agents`);
  const events = readEvents(repo).slice(eventsBefore);
  const kinds = events.filter((e) => e.type.startsWith('step-')).map((e) => e.type);
  assert.ok(kinds.length > 0 && kinds.every((k) => k === 'step-skip'), `${name} again: step events ${JSON.stringify(kinds)}`);
  assert.not.ok(events.some((e) => e.type === 'agent-spawned'), `${name} again spawned an agent`);
}

test('two waves of three items, step by step, each step twice: branches, state, relay, prompts; the checkout untouched', async () => {
  const gates = 'quality-gates:\n  pre-merge: ["test -f README.md"]\n  post-merge: [{name: suite, run: "true"}]';
  const repo = await makeRepo({ plan: rigPlan(WAVES, { command: COUNTING_AGENT, top: gates }), items: rigItems(WAVES) });
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
        assert.is(await git(repo.dir, 'rev-parse', itemBranch(item)), integration, `#${item.issue} starts at integration HEAD`);
        const lock = JSON.parse(readFileSync(path.join(dir, '.claude', 'kage-bunshin.lock'), 'utf8'));
        assert.is(lock.item, item.issue);
        assert.ok(lock.session_id && lock.parent_pid && lock.spawned_at && lock.model, JSON.stringify(lock));
      }
      const exitFiles = items.map((i) => path.join(repo.stateDir, 'items', String(i.issue), 'item-1.exit'));
      await stepTwice(repo, counter, 'spawn', wave, () => waitFor('the agents to exit', () => exitFiles.every((f) => existsSync(f))));
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
      assert.fixture(readFileSync(path.join(repo.stateDir, 'relay', `wave-${w + 1}.md`), 'utf8'), `${expected.join('\n')}\n`);
    }
    // The prompts: item, worktree, branch, gates, the report format; wave 2's carry wave 1's relay.
    const relay1 = readFileSync(path.join(repo.stateDir, 'relay', 'wave-1.md'), 'utf8');
    for (const item of WAVES.flat()) {
      const prompt = readFileSync(path.join(repo.stateDir, 'items', String(item.issue), 'prompt-1.md'), 'utf8');
      const wave = item.issue <= 3 ? 1 : 2;
      assert.match(prompt, `You are working on Issue #${item.issue}: ${item.title} (milestone 7, wave ${wave}).`);
      assert.match(prompt, `Your git worktree is ${path.join(repo.dir, 'worktrees', `7-${item.issue}-${slug(item.title)}`)}, on branch ${itemBranch(item)}.`);
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
    for (const item of WAVES[1] ?? []) await git(repo.dir, 'merge-base', '--is-ancestor', integrationHeads[0] as string, itemBranch(item));

    // The user's checkout: same status and HEAD; refs only gained our branches; worktrees only ours.
    assert.is(await git(repo.dir, 'status', '--porcelain', '--untracked-files=all'), statusBefore);
    assert.is(readFileSync(path.join(repo.dir, '.git', 'HEAD'), 'utf8'), headBefore);
    assert.is(await git(repo.dir, 'rev-parse', 'main'), mainBefore);
    const newRefs = (await git(repo.dir, 'for-each-ref', '--format=%(refname)')).split('\n').filter((r) => r !== 'refs/heads/main').sort();
    assert.equal(newRefs, [`refs/heads/${BRANCH}`, ...WAVES.flat().map((i) => `refs/heads/${itemBranch(i)}`)].sort());
    assert.is(await git(repo.dir, 'stash', 'list'), '');
    assert.ok(snapBefore.includes(headBefore));
  } finally {
    repo.cleanup();
    rmSync(path.dirname(counter), { recursive: true, force: true });
  }
});

test.run();
