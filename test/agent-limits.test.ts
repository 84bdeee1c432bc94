/**
 * Caps on what agents produce, in process (docs/limits.md): the judge's result (what state keeps), the relay, the
 * prompt, the environment, and adapters that pass prompts on stdin, never as an argument.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildItemPrompt } from '../tasks/agents/prompt.ts';
import { claudeAgent } from '../tasks/agents/claude.ts';
import { codexAgent } from '../tasks/agents/codex.ts';
import { commandAgent } from '../tasks/agents/command.ts';
import type { AgentInvocation, AgentOutcome } from '../tasks/agents/types.ts';
import { judgeAttempt, type BranchFacts } from '../tasks/items/item-result.ts';
import { LIMITS } from '../tasks/lib/bounded-text.ts';
import { childEnv } from '../tasks/lib/child-env.ts';
import { BUILTIN_SETTINGS } from '../tasks/lib/plan/load-plan.ts';
import type { PlanItem, PlanWave } from '../tasks/lib/plan/types.ts';
import { emptyItem, type ItemState } from '../tasks/lib/state-types.ts';
import { formatRelay } from '../tasks/reporting/relay-text.ts';

const BASE = 'a'.repeat(40);
const TIP = 'b'.repeat(40);
const OUT = '/state/items/5/item-1.stdout';

/** A hostile report: 200 KB of NOTES with NUL bytes, 5000 files, 3000 commits, 1000 blocked tasks. */
function hostileText(): string {
  const files = Array.from({ length: 5000 }, (_, i) => `src/f${i}.ts`);
  return [
    'STATUS: COMPLETE',
    'BRANCH: work/7-5-x',
    'FILES_CHANGED:',
    ...files,
    'COMMITS:',
    ...Array.from({ length: 3000 }, (_, i) => `c${i} commit ${i}`),
    `TASKS_BLOCKED: ${Array.from({ length: 1000 }, (_, i) => `t${i}`).join(', ')}`,
    `NOTES: start\u0000 ${'n'.repeat(200_000)}\u0000 end`,
  ].join('\n');
}

function outcome(text: string, extra: Partial<AgentOutcome> = {}): AgentOutcome {
  return {
    ok: true,
    text,
    failure: null,
    costUsd: 0.1,
    turns: 3,
    sessionId: 's',
    usage: null,
    denials: [],
    outputFile: OUT,
    ...extra,
  };
}

/**
 * Facts of a branch with `n` commits and 5000 changed files (the first `kept` of each read, as readBranchFacts keeps).
 */
function facts(n: number, kept = Math.min(n, LIMITS.gitEntries)): BranchFacts {
  return {
    commits: Array.from({ length: kept }, (_, i) => ({
      sha: i.toString(16).padStart(40, '0'),
      subject: `commit ${i}`,
    })),
    commitCount: n,
    files: Array.from({ length: 5000 }, (_, i) => `src/f${i}.ts`),
    fileCount: 5000,
    uncommitted: [],
    headBranch: 'work/7-5-x',
    worktreeExists: true,
    base: BASE,
    tip: TIP,
    missing: [],
  };
}

test('judgeAttempt: a hostile report is kept capped, each cut saying how much and where the rest is', () => {
  const v = judgeAttempt(outcome(hostileText()), facts(3000), 'work/7-5-x');
  assert.is(v.status, 'complete');
  const r = v.result;
  const notes = r.report?.notes ?? '';
  assert.ok(notes.startsWith('start '), notes.slice(0, 20));
  assert.not.match(notes, /\u0000/, 'no NUL kept');
  assert.match(notes, new RegExp(`… \\(\\d+ more characters; full text in ${OUT}\\)$`));
  assert.ok(notes.length < LIMITS.notesChars + 100);
  assert.equal(r.report?.filesChanged.slice(-1), [`… (${5000 - 20} more; full text in ${OUT})`]);
  assert.is(r.report?.filesChanged.length, 21);
  assert.is(r.report?.commits.length, 21);
  assert.is(r.report?.tasksBlocked.length, 21);
  assert.is(r.commits.length, 21);
  assert.equal(r.commits[20], {
    sha: '',
    subject: `… (2980 more; full list: git log --oneline ${BASE.slice(0, 12)}..${TIP.slice(0, 12)})`,
  });
  assert.equal(r.files.slice(-1), [
    `… (4980 more; full list: git diff --name-only ${BASE.slice(0, 12)} ${TIP.slice(0, 12)})`,
  ]);
  assert.ok(JSON.stringify(r).length < 12_000, `the result is ${JSON.stringify(r).length} characters of JSON`);
});

test('judgeAttempt: commits beyond what git listing kept are counted; a FAILED report with huge NOTES fails with a capped message', () => {
  const many = judgeAttempt(outcome(hostileText()), facts(100_000, LIMITS.gitEntries), 'work/7-5-x');
  assert.match(many.result.commits[20]?.subject ?? '', /^… \(99980 more; /);
  const failed = judgeAttempt(outcome(`STATUS: FAILED\nNOTES: ${'why '.repeat(50_000)}`), facts(1), 'work/7-5-x');
  assert.is(failed.status, 'failed');
  assert.ok((failed.failure ?? '').startsWith('agent reported FAILED: why why'));
  assert.ok(
    (failed.failure ?? '').length < LIMITS.failureChars + 100,
    `failure of ${(failed.failure ?? '').length} characters`,
  );
  assert.match(failed.failure ?? '', /more characters; full text in \/state\/items\/5\/item-1\.stdout\)$/);
});

test('judgeAttempt: flags are one line each, at most LIMITS.flags; a huge usage keeps its top-level numbers only', () => {
  const guards = {
    violations: [],
    flags: Array.from({ length: 50 }, (_, i) => `flag ${i}\nsecond line ${'z'.repeat(1000)}`),
  };
  const usage = { input_tokens: 10, output_tokens: 2, junk: 'j'.repeat(10_000), nested: { a: 1 } };
  const v = judgeAttempt(
    outcome('STATUS: COMPLETE\nNOTES: ok', { usage, denials: Array.from({ length: 500 }, (_, i) => `Bash ${i}`) }),
    facts(1),
    'work/7-5-x',
    guards,
  );
  const flags = v.result.flags;
  assert.is(flags.length, LIMITS.flags + 1);
  assert.ok(flags.every((f) => !f.includes('\n') && f.length <= LIMITS.flagChars));
  assert.match(flags[flags.length - 1] ?? '', /^… \(\d+ more\)$/);
  assert.equal(v.result.usage, { input_tokens: 10, output_tokens: 2 });
  assert.is(v.result.denials.length, 21);
});

function item(issue: number, title = `Item ${issue}`): PlanItem {
  return {
    issue,
    title,
    slug: `item-${issue}`,
    wave: 1,
    priority: null,
    conflictGroup: null,
    dependsOn: [],
    settings: BUILTIN_SETTINGS,
    edits: [],
  };
}

test('formatRelay: an item judged with the caps relays them unchanged; an uncapped one (older state) is capped too', () => {
  const judged = judgeAttempt(outcome(hostileText()), facts(3000), 'work/7-5-x');
  const capped: ItemState = { ...emptyItem(5, 1), status: 'complete', result: { ...judged.result, durationMs: 1 } };
  const old: ItemState = {
    ...emptyItem(6, 1),
    status: 'complete',
    failure: `boom\u0000 ${'f'.repeat(50_000)}`,
    result: {
      ...judged.result,
      durationMs: 1,
      report: {
        status: 'COMPLETE',
        branch: null,
        filesChanged: [],
        commits: [],
        tasksBlocked: [],
        notes: `old ${'o'.repeat(100_000)}`,
      },
      commits: Array.from({ length: 3000 }, (_, i) => ({ sha: i.toString(16).padStart(40, '0'), subject: `c ${i}` })),
      files: Array.from({ length: 3000 }, (_, i) => `f${i}`),
    },
  };
  const wave: PlanWave = { wave: 1, parallel: true, items: [item(5), item(6, `T\u0000${'t'.repeat(5000)}`)] };
  const text = formatRelay(wave, { 5: capped, 6: old });
  assert.ok(text.length < 16_000, `relay of ${text.length} characters`);
  assert.not.match(text, /[\u0000-\u0008\u000b-\u001f]/);
  assert.ok(
    text.includes(`- Design notes: start ${'n'.repeat(LIMITS.notesChars - 6)}… (`),
    'capped notes relayed as kept',
  );
  assert.ok(text.includes(`more characters; full text in ${OUT})`));
  assert.ok(text.includes('  - … (2980 more; full list: git log --oneline'), 'the commits marker is relayed');
  assert.match(text, /- Design notes: old o+… \(\d+ more characters\) failed: boom o?f+… \(\d+ more characters\)\n/);
  assert.match(text, /Files changed: f0, f1, .*, f19, … \(2980 more\)\n/);
});

test('buildItemPrompt: relay and previous failure are capped, control characters removed', () => {
  const prompt = buildItemPrompt(
    {
      item: { issue: 9, title: 'Nine\u0000', source: 'x', sections: {}, body: 'body\u0007' },
      milestone: '7',
      wave: 2,
      worktree: '/w',
      branch: 'b',
      gates: [],
      relay: `## Prior Wave Results\n${'r'.repeat(1_000_000)}`,
      previousFailure: `failed\u0000 ${'p'.repeat(100_000)}`,
    },
    null,
  );
  assert.ok(
    prompt.length < LIMITS.relayPromptChars + LIMITS.previousFailureChars + 5000,
    `prompt of ${prompt.length} characters`,
  );
  assert.not.match(prompt, /[\u0000-\u0008\u000b-\u001f]/);
  assert.match(prompt, /r… \(\d+ more characters\)/);
  assert.match(prompt, /## Previous attempt failed\nfailed p+… \(\d+ more characters\)\n/);
});

test('childEnv: every value the runner adds is one line, without NUL, at most LIMITS.envValueChars (+ its marker); the rest untouched', () => {
  const env = childEnv(
    { PATH: '/bin', KEEP: 'a\nb' },
    { WM_TITLE: `t\u0000i\ntle ${'x'.repeat(200_000)}`, WM_ISSUE: '5', WM_WORKTREE: `/${'d'.repeat(4000)}` },
  );
  const title = env.WM_TITLE ?? '';
  assert.ok(title.startsWith('t i tle xxx'), title.slice(0, 20));
  assert.ok(title.length < LIMITS.envValueChars + 50);
  assert.match(title, /… \(\d+ more characters\)$/);
  assert.is(env.WM_ISSUE, '5');
  assert.is(env.WM_WORKTREE, `/${'d'.repeat(4000)}`, 'a path of 4001 characters is kept whole');
  assert.is(env.KEEP, 'a\nb', "the runner's own environment is passed as it is");
  assert.is(env.WORK_MILESTONE_CHILD, '1');
});

function invocation(agent: 'claude' | 'codex' | 'command', prompt: string): AgentInvocation {
  return {
    role: 'item',
    issue: 1,
    title: 'x',
    wave: 1,
    milestone: '7',
    worktree: '/nonexistent',
    branch: 'work/7-1-x',
    prompt,
    promptFile: '/state/items/1/prompt-1.md',
    settings: { ...BUILTIN_SETTINGS, agent, command: 'cat "$WM_PROMPT_FILE"', allowedTools: ['Bash', 'Edit'] },
    edits: [],
  };
}

test('launch: claude and codex get a 300 KB prompt on stdin from the prompt file, never as an argument; command keeps WM_PROMPT_FILE', () => {
  const prompt = `You are working on Issue #1: ${'x'.repeat(300_000)}`;
  const claude = claudeAgent.launch(invocation('claude', prompt), {});
  assert.is(claude.stdinFile, '/state/items/1/prompt-1.md');
  assert.equal(claude.args.slice(0, 4), ['-p', '--output-format', 'stream-json', '--verbose']);
  assert.ok(claude.args.every((a) => a.length < 1000));
  const codex = codexAgent.launch(invocation('codex', prompt), {});
  assert.is(codex.stdinFile, '/state/items/1/prompt-1.md');
  assert.equal(codex.args.slice(-2), ['--', '-']);
  const command = commandAgent.launch(invocation('command', prompt), {});
  assert.is(command.stdinFile, undefined, 'stdin stays /dev/null');
  assert.equal(command.args, ['-c', 'cat "$WM_PROMPT_FILE"']);
});

test('parse: the output file is what a cut text points to', () => {
  const o = claudeAgent.parse({
    stdout: '{"type":"result","result":"STATUS: COMPLETE","is_error":false}\n',
    stderr: '',
    exitCode: 0,
    stdoutFile: OUT,
  });
  assert.is(o.outputFile, OUT);
  assert.is(
    commandAgent.parse({ stdout: 'STATUS: COMPLETE', stderr: '', exitCode: 0, stdoutFile: OUT }).outputFile,
    OUT,
  );
  const failed = commandAgent.parse({ stdout: `${'x'.repeat(4_000_000)}\n`, stderr: '', exitCode: 1 });
  assert.ok((failed.failure ?? '').length < LIMITS.tailChars + 20, 'a failure quotes a bounded tail of a 4 MB line');
});

test.run();
