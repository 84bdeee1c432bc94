/**
 * The codex adapter (tasks/agents/codex.ts) without running codex: its parser on REAL `codex exec --json` output
 * recorded
 * with @openai/codex 0.169 against the scripted Responses server (test/fixtures/codex/, see cases.json there for how
 * each
 * was made), and the command line it builds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { codexAgent, isClaudeModel, parseCodexEvents, sandboxArgs } from '../tasks/agents/codex.ts';
import { BUILTIN_SETTINGS } from '../tasks/lib/plan/normalise.ts';
import type { AgentInvocation } from '../tasks/agents/types.ts';
import type { AgentSettings } from '../tasks/lib/plan/types.ts';
import { git, makeRepo, ROOT } from './support/fixture.ts';

const DIR = path.join(ROOT, 'test', 'fixtures', 'codex');
const cases = JSON.parse(readFileSync(path.join(DIR, 'cases.json'), 'utf8')) as Record<
  string,
  { exitCode: number; stderr: string }
>;

/** What the adapter makes of a recorded case. */
function parsed(name: string) {
  const c = cases[name];
  if (!c) throw new Error(`no case ${name}`);
  return codexAgent.parse({
    stdout: readFileSync(path.join(DIR, `${name}.jsonl`), 'utf8'),
    stderr: c.stderr,
    exitCode: c.exitCode,
  });
}

test('success: the report is the last agent_message, usage from turn.completed, turns = model actions, thread id', () => {
  const o = parsed('success');
  assert.is(o.ok, true, String(o.failure));
  assert.is(o.failure, null);
  assert.is(
    o.text,
    'Done.\n\nSTATUS: COMPLETE\nBRANCH: work/x\nFILES_CHANGED:\na.txt\nCOMMITS:\nfeat: a\nNOTES: wrote a.txt',
  );
  assert.equal(o.usage, {
    input_tokens: 3000,
    cached_input_tokens: 600,
    cache_write_input_tokens: 0,
    output_tokens: 150,
    reasoning_output_tokens: 0,
  });
  assert.is(o.turns, 3);
  assert.is(o.costUsd, null);
  assert.match(String(o.sessionId), /^[0-9a-f-]{36}$/);
  assert.equal(o.denials, []);
});

test('a command the sandbox refused is not in the JSON at all: the run looks fine (git decides it committed nothing)', () => {
  const o = parsed('sandbox-readonly-git');
  assert.is(o.ok, true);
  assert.is(o.turns, 2, 'the write and the message; the refused `git commit` left no item');
  assert.match(o.text, /STATUS: COMPLETE/);
});

test('a warning `error` item (unknown model metadata) is not a failure', () => {
  const run = parseCodexEvents(readFileSync(path.join(DIR, 'unknown-model.jsonl'), 'utf8'));
  assert.is(run.errors.length, 1);
  assert.match(run.errors[0] ?? '', /Model metadata for `sonnet` not found/);
  const o = parsed('unknown-model');
  assert.is(o.ok, true);
  assert.is(o.text, 'STATUS: COMPLETE\nNOTES: nothing to do');
});

test("HTTP 429: turn.failed → failed with codex's message and the exit code", () => {
  const o = parsed('rate-limited');
  assert.is(o.ok, false);
  assert.is(o.failure, 'codex turn failed: exceeded retry limit, last status: 429 Too Many Requests (exit 1)');
  assert.is(o.text, '');
  assert.is(o.usage, null);
});

test('HTTP 500: "Reconnecting..." error events are not the failure; turn.failed is', () => {
  const run = parseCodexEvents(readFileSync(path.join(DIR, 'server-error.jsonl'), 'utf8'));
  assert.is(run.errors.length, 2);
  assert.match(run.errors[0] ?? '', /^Reconnecting\.\.\. 1\/1/);
  const o = parsed('server-error');
  assert.is(o.ok, false);
  assert.match(String(o.failure), /^codex turn failed: We.re currently experiencing high demand/);
});

test('connection refused (bounded retries): failed with the connection error', () => {
  const o = parsed('connection-refused');
  assert.is(o.failure, 'codex turn failed: Connection failed: error sending request (exit 1)');
});

test('a bad flag: exit 2, nothing on stdout → failed with the last stderr lines', () => {
  const o = parsed('bad-flag');
  assert.is(o.ok, false);
  assert.match(String(o.failure), /^exited 2: /);
  assert.match(String(o.failure), /For more information, try '--help'/);
  assert.is(o.turns, null);
  assert.is(o.sessionId, null);
});

test('no turn.completed (killed mid-turn), exit 0 anyway, or an empty message: failed', () => {
  const started = '{"type":"thread.started","thread_id":"t"}\n{"type":"turn.started"}\n';
  assert.match(
    String(codexAgent.parse({ stdout: started, stderr: '', exitCode: 0 }).failure),
    /without turn\.completed/,
  );
  const killed = codexAgent.parse({ stdout: started, stderr: '', exitCode: 137 });
  assert.match(String(killed.failure), /^exited 137/);
  const silent = `${started}{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}\n`;
  assert.is(codexAgent.parse({ stdout: silent, stderr: '', exitCode: 0 }).failure, 'codex returned no agent message');
  const lines = `${started}{"type":"item.completed","item":{"id":"a","type":"agent_message","text":"first"}}\nnot json\n{"type":"item.completed","item":{"id":"b","type":"agent_message","text":"STATUS: DONE"}}\n{"type":"turn.completed","usage":{"input_tokens":5}}\n{"type":"turn.completed","usage":{"input_tokens":7}}\n`;
  const o = codexAgent.parse({ stdout: lines, stderr: '', exitCode: 0 });
  assert.is(o.text, 'STATUS: DONE', 'the LAST agent message');
  assert.equal(o.usage, { input_tokens: 12 }, 'usage summed over turns');
});

// ---------------------------------------------------------------------------------------------------------
// The command line.

function invocation(
  worktree: string,
  settings: Partial<AgentSettings> = {},
  prompt = 'You are working on Issue #1: x',
): AgentInvocation {
  return {
    role: 'item',
    issue: 1,
    title: 'x',
    wave: 1,
    milestone: '7',
    worktree,
    branch: 'work/7-1-x',
    prompt,
    promptFile: '/dev/null',
    settings: { ...BUILTIN_SETTINGS, agent: 'codex', ...settings },
    edits: [],
  };
}

test('launch: exec --json --ephemeral, the sandbox with both git dirs of a worktree, agent-args, then -- - with the prompt file on stdin', async () => {
  const repo = await makeRepo({ plan: 'x: 1\n', items: [] });
  try {
    await git(repo.dir, 'worktree', 'add', '-q', '-b', 'work/7-1-x', path.join(repo.dir, 'worktrees', '7-1-x'));
    const wt = path.join(repo.dir, 'worktrees', '7-1-x');
    assert.equal(sandboxArgs(wt), [
      '-s',
      'workspace-write',
      '--add-dir',
      path.join(repo.dir, '.git', 'worktrees', '7-1-x'),
      '--add-dir',
      path.join(repo.dir, '.git'),
    ]);
    assert.equal(
      sandboxArgs(repo.dir),
      ['-s', 'workspace-write', '--add-dir', path.join(repo.dir, '.git')],
      'main checkout: one dir',
    );
    const spec = codexAgent.launch(
      invocation(wt, { model: 'gpt-5.5', effort: 'high', agentArgs: ['-c', 'model_provider=x'] }),
      { CODEX_BIN: '/opt/codex' },
    );
    assert.is(spec.file, '/opt/codex');
    assert.equal(spec.args, [
      'exec',
      '--json',
      '--ephemeral',
      '-m',
      'gpt-5.5',
      '-c',
      'model_reasoning_effort="high"',
      '-s',
      'workspace-write',
      '--add-dir',
      path.join(repo.dir, '.git', 'worktrees', '7-1-x'),
      '--add-dir',
      path.join(repo.dir, '.git'),
      '-c',
      'model_provider=x',
      '--',
      '-',
    ]);
    assert.is(spec.stdinFile, '/dev/null', 'the prompt file is stdin');
    const big = codexAgent.launch(invocation(wt, {}, `You are working on Issue #1: ${'x'.repeat(300_000)}`), {});
    assert.ok(
      big.args.every((a) => a.length < 1000),
      'a 300 KB prompt is not an argument',
    );
    assert.is(codexAgent.launch(invocation(wt), {}).file, 'codex', 'PATH when CODEX_BIN is not set');
  } finally {
    repo.cleanup();
  }
});

test("launch: a sandbox choice in agent-args replaces the adapter's (codex refuses -s twice)", () => {
  for (const agentArgs of [
    ['--dangerously-bypass-approvals-and-sandbox'],
    ['-s', 'danger-full-access'],
    ['--sandbox', 'read-only'],
    ['--sandbox=read-only'],
    ['-c', 'sandbox_mode="danger-full-access"'],
    ['--config=sandbox_mode="danger-full-access"'],
  ]) {
    const args = codexAgent.launch(invocation('/nonexistent', { model: 'gpt-5.5', agentArgs }), {}).args;
    assert.is(args.filter((a) => a === 'workspace-write' || a === '--add-dir').length, 0, agentArgs.join(' '));
    assert.equal(args.slice(-agentArgs.length - 2, -2), agentArgs);
  }
  const plain = codexAgent.launch(
    invocation('/nonexistent', { model: 'gpt-5.5', agentArgs: ['--skip-git-repo-check'] }),
    {},
  ).args;
  assert.ok(plain.includes('workspace-write'), '--skip-git-repo-check is not a sandbox flag');
});

test('launch: a Claude model name (the plan default `sonnet`) is not passed to codex; others are', () => {
  for (const m of ['sonnet', 'opus', 'haiku', 'claude-sonnet-4-5', 'sonnet[1m]']) assert.ok(isClaudeModel(m), m);
  for (const m of ['gpt-5.5', 'o3', 'gpt-5-codex']) assert.not.ok(isClaudeModel(m), m);
  assert.not.ok(codexAgent.launch(invocation('/nonexistent'), {}).args.includes('-m'));
});

test.run();
