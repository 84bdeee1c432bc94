/**
 * Failure reason codes (FailureCode in tasks/lib/state-types.ts): each kind of failed attempt gets its code from
 * judgeAttempt, a run records it in state.json beside the text, and `status --json` and the event stream show it.
 */
import { rmSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AgentOutcome } from '../tasks/agents/types.ts';
import { judgeAttempt, type BranchFacts } from '../tasks/items/item-result.ts';
import { loadSchema } from '../tasks/lib/schema-check.ts';
import { FAILURE_CODES, emptyItem, emptyState, type FailureCode } from '../tasks/lib/state-types.ts';
import { makeRepo, readEvents, readStateFile, runCli, tempDir, writeAgent } from './support/fixture.ts';

const BRANCH = 'work/7/1-alpha';

function outcome(text: string, over: Partial<AgentOutcome> = {}): AgentOutcome {
  const base = { ok: true, text, failure: null, costUsd: null, turns: null, sessionId: null, usage: null, denials: [] };
  return { ...base, ...over };
}

function facts(commitCount: number): BranchFacts {
  return {
    commits: commitCount ? [{ sha: 'c'.repeat(40), subject: 'work' }] : [],
    commitCount,
    files: commitCount ? ['a.txt'] : [],
    fileCount: commitCount,
    uncommitted: [],
    headBranch: BRANCH,
    worktreeExists: true,
    base: 'a'.repeat(40),
    tip: 'b'.repeat(40),
    missing: [],
  };
}

const report = (status: string) => `STATUS: ${status}\nBRANCH: ${BRANCH}\nNOTES: n`;

test('judgeAttempt gives each kind of failed attempt its code, and none to a good one', () => {
  const cases: Array<[string, FailureCode | null, ReturnType<typeof judgeAttempt>]> = [
    ['complete', null, judgeAttempt(outcome(report('COMPLETE')), facts(1), BRANCH)],
    [
      'guard',
      'guard',
      judgeAttempt(outcome(report('COMPLETE')), facts(1), BRANCH, { violations: ['changed .git/hooks'], flags: [] }),
    ],
    [
      'agent error',
      'agent-error',
      judgeAttempt(outcome('', { ok: false, failure: 'exited 1: boom' }), facts(1), BRANCH),
    ],
    [
      'timeout',
      'timeout',
      judgeAttempt(outcome('', { ok: false, failure: 'timed out', failureCode: 'timeout' }), facts(1), BRANCH),
    ],
    ['lost', 'lost', judgeAttempt(outcome('', { ok: false, failure: 'died', failureCode: 'lost' }), facts(1), BRANCH)],
    ['no report', 'no-report', judgeAttempt(outcome('all done'), facts(1), BRANCH)],
    ['bad report', 'bad-report', judgeAttempt(outcome(report('MAYBE')), facts(1), BRANCH)],
    ['reported failed', 'report-failed', judgeAttempt(outcome(report('FAILED')), facts(1), BRANCH)],
    ['no commits', 'no-commits', judgeAttempt(outcome(report('COMPLETE')), facts(0), BRANCH)],
  ];
  for (const [name, code, verdict] of cases) {
    assert.is(verdict.failureCode, code, name);
    assert.is(verdict.status === 'failed', code !== null, name);
  }
});

test('the state schema accepts every code, null, and no code at all (state of older runs); nothing else', () => {
  const validate = loadSchema('state.schema.json');
  const withCode = (code: unknown) => ({ ...emptyState('7'), items: { 1: { ...emptyItem(1, 1), failureCode: code } } });
  for (const code of [...FAILURE_CODES, null]) assert.ok(validate(withCode(code)), String(code));
  assert.ok(validate({ ...emptyState('7'), items: { 1: emptyItem(1, 1) } }));
  assert.not.ok(validate(withCode('exploded')));
});

test('a run records each failure with its code; status --json and the events show it', async () => {
  const tools = tempDir('wm-codes-');
  const agent = writeAgent(
    tools,
    `case "$WM_ISSUE" in
1) echo broken >&2; exit 1;;
2) report FAILED "cannot";;
3) report COMPLETE;;
esac`,
  );
  const plan = [
    'milestone: {number: 7, title: Codes}',
    'waves:',
    '  - wave: 1',
    '    parallel: false',
    '    items:',
    '      - {issue: 1, title: One}',
    '      - {issue: 2, title: Two}',
    '      - {issue: 3, title: Three}',
    '  - wave: 2',
    '    items:',
    '      - {issue: 4, title: Four, depends-on: [1]}',
    `defaults: {agent: command, retries: 0, timeout: 30s, command: ${JSON.stringify(agent.command)}}`,
    '',
  ].join('\n');
  const items = [1, 2, 3, 4].map((issue) => ({ issue, title: ['One', 'Two', 'Three', 'Four'][issue - 1] ?? '' }));
  const repo = await makeRepo({ plan, items });
  try {
    const run = await runCli('run', ['7', '--repo', repo.dir, '--yes']);
    assert.is(run.code, 3, run.stderr);
    const expected: Record<string, FailureCode> = {
      1: 'agent-error',
      2: 'report-failed',
      3: 'no-commits',
      4: 'dependency-failed',
    };
    const state = readStateFile(repo) as { items: Record<string, { status: string; failureCode?: string }> };
    for (const [issue, code] of Object.entries(expected)) assert.is(state.items[issue]?.failureCode, code, issue);
    assert.is(state.items['4']?.status, 'skipped');

    const status = await runCli('status', ['7', '--repo', repo.dir, '--json']);
    assert.is(status.code, 0, status.stderr);
    const shown = (JSON.parse(status.stdout) as { items: Array<{ issue: number; failureCode: string | null }> }).items;
    assert.equal(Object.fromEntries(shown.map((i) => [String(i.issue), i.failureCode])), expected);

    const events = readEvents(repo) as Array<{ type: string; issue?: number; status?: string; failureCode?: string }>;
    for (const [issue, code] of Object.entries(expected)) {
      const last = events.filter((e) => e.type === 'item' && e.issue === Number(issue)).pop();
      assert.is(last?.failureCode, code, `event of #${issue}`);
    }
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
