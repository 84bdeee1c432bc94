/**
 * `judgeAttempt` (tasks/items/item-result.ts), in-process on hand-made outcomes and branch facts: the status and
 * failure
 * of each kind of attempt, and the exact flags for disagreements between the report and git (issue 15).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AgentOutcome } from '../tasks/agents/types.ts';
import { judgeAttempt, type BranchFacts } from '../tasks/items/item-result.ts';

const BRANCH = 'work/7/42-tokenizer';
const BASE = 'a'.repeat(40);
const TIP = 'b'.repeat(40);

function outcome(text: string, over: Partial<AgentOutcome> = {}): AgentOutcome {
  return {
    ok: true,
    text,
    failure: null,
    costUsd: 0.5,
    turns: 3,
    sessionId: 'sess-1',
    usage: { input_tokens: 10 },
    denials: [],
    ...over,
  };
}

function facts(over: Partial<BranchFacts> = {}): BranchFacts {
  return {
    commits: [{ sha: 'c'.repeat(40), subject: 'Add tokenizer' }],
    commitCount: 1,
    files: ['src/tok.ts'],
    fileCount: 1,
    uncommitted: [],
    headBranch: BRANCH,
    worktreeExists: true,
    base: BASE,
    tip: TIP,
    missing: [],
    ...over,
  };
}

const report = (status: string, files = 'src/tok.ts', extra = '') =>
  `Done.\nSTATUS: ${status}\nBRANCH: ${BRANCH}\nFILES_CHANGED: ${files}\nCOMMITS:\n- ccccccc Add tokenizer\nNOTES: ${extra}`;

test('COMPLETE with a commit and agreeing files: complete, no failure, no flags, result as state keeps it', () => {
  const v = judgeAttempt(outcome(report('COMPLETE', 'src/tok.ts', 'split on spaces')), facts(), BRANCH);
  assert.is(v.status, 'complete');
  assert.is(v.failure, null);
  assert.equal(v.result.flags, []);
  assert.equal(v.result.commits, [{ sha: 'c'.repeat(40), subject: 'Add tokenizer' }]);
  assert.equal(v.result.files, ['src/tok.ts']);
  assert.equal(v.result.report, {
    status: 'COMPLETE',
    branch: BRANCH,
    filesChanged: ['src/tok.ts'],
    commits: ['ccccccc Add tokenizer'],
    tasksBlocked: [],
    notes: 'split on spaces',
  });
  assert.is(v.result.costUsd, 0.5);
  assert.is(v.result.turns, 3);
  assert.is(v.result.sessionId, 'sess-1');
  assert.equal(v.result.usage, { input_tokens: 10 });
});

test('COMPLETE without commits fails, naming the branch', () => {
  const v = judgeAttempt(
    outcome(report('COMPLETE', 'none')),
    facts({ commits: [], commitCount: 0, files: [], fileCount: 0 }),
    BRANCH,
  );
  assert.is(v.status, 'failed');
  assert.is(v.failure, `agent reported COMPLETE but committed nothing on ${BRANCH}`);
  assert.equal(v.result.flags, []);
});

test('PARTIAL with a commit is partial; PARTIAL without commits fails', () => {
  const partial = judgeAttempt(outcome(report('PARTIAL')), facts(), BRANCH);
  assert.is(partial.status, 'partial');
  assert.is(partial.failure, null);
  const none = judgeAttempt(
    outcome(report('PARTIAL', 'none')),
    facts({ commits: [], commitCount: 0, files: [], fileCount: 0 }),
    BRANCH,
  );
  assert.is(none.status, 'failed');
  assert.is(none.failure, `agent reported PARTIAL but committed nothing on ${BRANCH}`);
});

test('a FAILED report fails with its notes, even with commits', () => {
  const v = judgeAttempt(outcome(report('FAILED', 'src/tok.ts', 'the spec is contradictory')), facts(), BRANCH);
  assert.is(v.status, 'failed');
  assert.is(v.failure, 'agent reported FAILED: the spec is contradictory');
  const bare = judgeAttempt(outcome(report('FAILED', 'src/tok.ts', '')), facts(), BRANCH);
  assert.is(bare.failure, 'agent reported FAILED');
});

test('no STATUS line: failed, no report kept', () => {
  const v = judgeAttempt(outcome('I changed some files, bye.'), facts(), BRANCH);
  assert.is(v.status, 'failed');
  assert.is(v.failure, 'the final text has no report (no STATUS line)');
  assert.is(v.result.report, null);
});

test('a STATUS line with no valid word: failed', () => {
  const v = judgeAttempt(outcome(report('MOSTLY')), facts(), BRANCH);
  assert.is(v.status, 'failed');
  assert.is(v.failure, 'the report has no valid STATUS (COMPLETE, PARTIAL or FAILED)');
  assert.is(v.result.report?.status, null);
});

test('an agent that did not end ok fails with its failure (or "agent failed"), before the report is read', () => {
  const v = judgeAttempt(outcome(report('COMPLETE'), { ok: false, failure: 'exited 1: boom' }), facts(), BRANCH);
  assert.is(v.status, 'failed');
  assert.is(v.failure, 'exited 1: boom');
  const bare = judgeAttempt(outcome('', { ok: false }), facts(), BRANCH);
  assert.is(bare.failure, 'agent failed');
});

test('report and git disagreeing: each disagreement is flagged, in order, and the attempt still counts', () => {
  const v = judgeAttempt(
    outcome('STATUS: COMPLETE\nBRANCH: work/7/other\nFILES_CHANGED: src/tok.ts, src/ghost.ts\nNOTES: ok', {
      denials: ['Bash(rm -rf /)', 'WebFetch'],
    }),
    facts({
      files: ['src/tok.ts', 'src/real.ts'],
      fileCount: 2,
      uncommitted: ['scratch.txt'],
      headBranch: 'work/7/other',
    }),
    BRANCH,
    { violations: [], flags: ['touched the user checkout: README.md'] },
  );
  assert.is(v.status, 'complete');
  assert.is(v.failure, null);
  assert.equal(v.result.flags, [
    `report names branch work/7/other, the item branch is ${BRANCH}`,
    `the worktree is on work/7/other, not ${BRANCH}`,
    'report lists files git does not show as changed: src/ghost.ts',
    'git shows changed files the report does not list: src/real.ts',
    'uncommitted changes left in the worktree (never merged): scratch.txt',
    'touched the user checkout: README.md',
    'tool calls denied: Bash(rm -rf /); WebFetch',
  ]);
  assert.equal(v.result.uncommitted, ['scratch.txt']);
  assert.equal(v.result.denials, ['Bash(rm -rf /)', 'WebFetch']);
});

test('a detached HEAD and a deleted branch are flagged; a missing worktree is not called detached', () => {
  const detached = judgeAttempt(outcome(report('COMPLETE')), facts({ headBranch: null }), BRANCH);
  assert.equal(detached.result.flags, [`the worktree is on a detached HEAD, not ${BRANCH}`]);
  const gone = judgeAttempt(
    outcome(report('COMPLETE')),
    facts({ headBranch: null, worktreeExists: false, missing: ['the worktree /w/42 is missing (deleted?)'] }),
    BRANCH,
  );
  assert.equal(gone.result.flags, ['the worktree /w/42 is missing (deleted?)']);
  assert.is(gone.status, 'complete');
});

test('a status git could not read is said, with why: its leftovers are unknown, not none', () => {
  const v = judgeAttempt(outcome(report('COMPLETE')), facts({ statusError: 'git status stopped' }), BRANCH);
  assert.equal(v.result.flags, [
    "could not read the worktree's status, so its uncommitted files are unknown: git status stopped",
  ]);
  assert.is(v.status, 'complete');
});

test('when git listed only part of the files, reported files are not called extra', () => {
  const v = judgeAttempt(
    outcome(report('COMPLETE', 'src/tok.ts, src/later.ts')),
    facts({ files: ['src/tok.ts'], fileCount: 6000 }),
    BRANCH,
  );
  assert.equal(v.result.flags, []);
  assert.equal(v.result.files, [
    'src/tok.ts',
    `… (5999 more; full list: git diff --name-only ${'a'.repeat(12)} ${'b'.repeat(12)})`,
  ]);
});

test('guard violations fail the attempt even with a COMPLETE report and commits; guard flags are kept', () => {
  const v = judgeAttempt(outcome(report('COMPLETE')), facts(), BRANCH, {
    violations: ['moved main', 'deleted refs/heads/work/7/integration'],
    flags: ['a guard flag'],
  });
  assert.is(v.status, 'failed');
  assert.is(v.failure, 'moved main; deleted refs/heads/work/7/integration');
  assert.equal(v.result.flags, ['a guard flag']);
});

test('a protected branch checked out in the worktree fails first, then the guard violations', () => {
  const v = judgeAttempt(
    outcome(report('COMPLETE')),
    facts({ headBranch: 'main' }),
    BRANCH,
    { violations: ['moved main'], flags: [] },
    ['main', 'work/7/integration'],
  );
  assert.is(v.status, 'failed');
  assert.is(v.failure, `checked out main in its worktree (an item works only on ${BRANCH}); moved main`);
  assert.equal(v.result.flags, [`the worktree is on main, not ${BRANCH}`]);
  // Another branch, not protected, is only a flag.
  const other = judgeAttempt(outcome(report('COMPLETE')), facts({ headBranch: 'feature' }), BRANCH, undefined, [
    'main',
  ]);
  assert.is(other.status, 'complete');
  assert.equal(other.result.flags, [`the worktree is on feature, not ${BRANCH}`]);
});

test('a protected branch name in a deleted worktree is not a violation', () => {
  const v = judgeAttempt(
    outcome(report('COMPLETE')),
    facts({ headBranch: 'main', worktreeExists: false }),
    BRANCH,
    undefined,
    ['main'],
  );
  assert.is(v.status, 'complete');
});

test('commits beyond the list cap end in a marker saying how many more and how to list them', () => {
  const commits = Array.from({ length: 25 }, (_, i) => ({ sha: String(i).padStart(40, '0'), subject: `commit ${i}` }));
  const v = judgeAttempt(outcome(report('COMPLETE')), facts({ commits, commitCount: 25 }), BRANCH);
  assert.is(v.result.commits.length, 21);
  assert.equal(v.result.commits[19], { sha: String(19).padStart(40, '0'), subject: 'commit 19' });
  assert.equal(v.result.commits[20], {
    sha: '',
    subject: `… (5 more; full list: git log --oneline ${'a'.repeat(12)}..${'b'.repeat(12)})`,
  });
});

test('long NOTES and failure texts are capped, saying where the whole is', () => {
  const notes = 'n'.repeat(3000);
  const v = judgeAttempt(
    outcome(report('FAILED', 'src/tok.ts', notes), { outputFile: '/s/out/42.stdout' }),
    facts(),
    BRANCH,
  );
  assert.is(v.result.report?.notes, `${'n'.repeat(2048)}… (952 more characters; full text in /s/out/42.stdout)`);
  // The failure quotes the capped notes, then is capped at 1024 itself; the marker counts both cuts.
  assert.is(
    v.failure,
    `agent reported FAILED: ${'n'.repeat(1001)}… (1999 more characters; full text in /s/out/42.stdout)`,
  );
});

test('a flag listing long paths keeps its "(N more)" count under the flag cap', () => {
  const files = Array.from({ length: 12 }, (_, i) => `src/${String(i).padStart(2, '0')}-${'x'.repeat(90)}.ts`);
  const v = judgeAttempt(outcome('STATUS: COMPLETE\nFILES_CHANGED: src/a.ts'), facts({ files, fileCount: 12 }), BRANCH);
  const flag = v.result.flags.find((f) => f.startsWith('git shows changed files the report does not list')) ?? '';
  assert.match(flag, /… \(\d+ more\)$/);
  assert.ok(flag.length <= 300, `${flag.length} characters`);
});

test('a big usage object keeps only its top-level numbers', () => {
  const usage = { input_tokens: 5, output_tokens: 7, blob: 'x'.repeat(600), nested: { a: 1 } };
  const v = judgeAttempt(outcome(report('COMPLETE'), { usage }), facts(), BRANCH);
  assert.equal(v.result.usage, { input_tokens: 5, output_tokens: 7 });
});

test.run();
