/**
 * The scripted model server against the REAL Claude Code CLI (`claude -p`):
 * tool calls really run in a temp git repo, errors and retries behave as they
 * do against the real API. One CLI at a time; each test takes a few seconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startModelServer, type ModelServer } from './support/anthropic-server.ts';

const CLAUDE_BIN = process.env.CLAUDE_BIN ?? path.resolve('node_modules/.bin/claude');
const TIMEOUT_MS = 60_000;

interface ClaudeResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  json: Record<string, unknown> | null;
}

const cleanup: string[] = [];

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh git repo with one commit (README.md = "hello\n"). */
async function makeRepo(): Promise<string> {
  const repo = await fs.mkdtemp(path.join(os.tmpdir(), 'wm-claude-repo-'));
  cleanup.push(repo);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'test@example.com');
  git(repo, 'config', 'user.name', 'Test');
  git(repo, 'config', 'commit.gpgsign', 'false');
  await fs.writeFile(path.join(repo, 'README.md'), 'hello\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'init');
  return repo;
}

/** Runs `claude -p` in `repo` against `server`, isolated from the machine's settings and offline. */
async function runClaude(
  repo: string,
  server: ModelServer,
  prompt: string,
  opts: { env?: Record<string, string>; args?: string[] } = {},
): Promise<ClaudeResult> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'wm-claude-home-'));
  cleanup.push(home);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    ANTHROPIC_BASE_URL: server.url,
    ANTHROPIC_API_KEY: 'dummy',
    // Without this the CLI resolves api.anthropic.com etc. (measured with strace).
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    NO_COLOR: '1',
    ...opts.env,
  };
  const args = [
    '-p',
    prompt,
    '--output-format',
    'json',
    ...(opts.args ?? ['--permission-mode', 'default', '--allowedTools', 'Bash', 'Edit', 'Write']),
  ];
  const started = Date.now();
  const child = spawn(CLAUDE_BIN, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  let json: Record<string, unknown> | null;
  try {
    json = JSON.parse(stdout.trim()) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { code, stdout, stderr, ms: Date.now() - started, json };
}

function describe(r: ClaudeResult): string {
  return `exit ${r.code} after ${r.ms} ms\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(-2000)}`;
}

test.after(async () => {
  await Promise.all(cleanup.map((d) => fs.rm(d, { recursive: true, force: true })));
});

test('server: non-streaming message, side query, count_tokens and HEAD are answered', async () => {
  const server = await startModelServer([
    { match: 'Issue #7', steps: [{ tool: 'Bash', input: { command: 'true' } }, { text: 'done' }] },
  ]);
  try {
    const post = (body: unknown, p = '/v1/messages?beta=true') =>
      fetch(server.url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const tools = [{ name: 'Bash', input_schema: { type: 'object' } }];
    const first = (await (
      await post({ model: 'm', stream: false, tools, messages: [{ role: 'user', content: 'Issue #7 please' }] })
    ).json()) as { stop_reason: string; content: Array<{ type: string; name?: string; input?: unknown }> };
    assert.is(first.stop_reason, 'tool_use');
    assert.is(first.content[0]?.name, 'Bash');
    assert.equal(first.content[0]?.input, { command: 'true' });

    const second = (await (
      await post({
        model: 'm',
        stream: false,
        tools,
        messages: [
          { role: 'user', content: 'Issue #7 please' },
          { role: 'assistant', content: first.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'x', content: '' }] },
        ],
      })
    ).json()) as { stop_reason: string; content: Array<{ type: string; text?: string }> };
    assert.is(second.stop_reason, 'end_turn');
    assert.is(second.content[0]?.text, 'done');

    const side = (await (
      await post({ model: 'm', messages: [{ role: 'user', content: 'Issue #7: a title?' }] })
    ).json()) as {
      content: Array<{ text?: string }>;
    };
    assert.is(side.content[0]?.text, 'ok');

    const count = (await (await post({ messages: [] }, '/v1/messages/count_tokens')).json()) as {
      input_tokens: number;
    };
    assert.type(count.input_tokens, 'number');
    assert.is((await fetch(server.url + '/api/hello', { method: 'HEAD' })).status, 200);

    assert.equal(
      server.requests.map((r) => r.match),
      ['Issue #7', 'Issue #7', null, null, null],
    );
  } finally {
    await server.close();
  }
});

test('claude: Write + Bash commit + final report, JSON result', async () => {
  const repo = await makeRepo();
  const report = 'STATUS: COMPLETE\nBRANCH: main\nNOTES: scripted';
  const server = await startModelServer([
    { match: 'Other issue', steps: [{ text: 'wrong agent' }] },
    {
      match: 'Issue #42',
      steps: [
        { tool: 'Write', input: { file_path: 'src/hello.txt', content: 'hi from the agent\n' } },
        { tool: 'Bash', input: { command: 'git add -A && git commit -m "feat: x"' } },
        { text: report },
      ],
    },
  ]);
  try {
    const r = await runClaude(repo, server, 'Implement Issue #42: say hi.');
    assert.is(r.code, 0, describe(r));
    assert.ok(r.json, describe(r));
    const j = r.json!;
    assert.is(j.result, report);
    assert.is(j.is_error, false);
    assert.type(j.num_turns, 'number');
    assert.ok((j.num_turns as number) >= 3, `num_turns ${String(j.num_turns)}`);
    assert.type(j.total_cost_usd, 'number');
    // Fixed usage per answer: 3 answers × $0.005 with the CLI's default model.
    assert.ok(Math.abs((j.total_cost_usd as number) - 3 * 0.005) < 1e-9, `total_cost_usd ${String(j.total_cost_usd)}`);
    assert.type(j.session_id, 'string');
    assert.type(j.usage, 'object');
    assert.equal(j.permission_denials, []);
    assert.is(await fs.readFile(path.join(repo, 'src/hello.txt'), 'utf8'), 'hi from the agent\n');
    assert.match(git(repo, 'log', '--format=%s'), /^feat: x\ninit\n$/);
    assert.is(git(repo, 'status', '--porcelain'), '');
    const mine = server.requests.filter((q) => q.match === 'Issue #42');
    assert.is(mine.length, 3, JSON.stringify(server.requests));
    assert.not.ok(server.requests.some((q) => q.match === 'Other issue'));
  } finally {
    await server.close();
  }
});

test('claude: Edit changes an existing file (absolute path made from the reported cwd)', async () => {
  const repo = await makeRepo();
  const server = await startModelServer([
    {
      match: 'Issue #43',
      steps: [
        { tool: 'Edit', input: { file_path: 'README.md', old_string: 'hello', new_string: 'hello world' } },
        { text: 'edited' },
      ],
    },
  ]);
  try {
    const r = await runClaude(repo, server, 'Issue #43: greet the world.');
    assert.is(r.code, 0, describe(r));
    assert.is(r.json?.result, 'edited', describe(r));
    assert.is(r.json?.is_error, false);
    assert.is(await fs.readFile(path.join(repo, 'README.md'), 'utf8'), 'hello world\n');
  } finally {
    await server.close();
  }
});

test('claude: --permission-mode auto runs Bash when the server answers the safety check', async () => {
  const repo = await makeRepo();
  const server = await startModelServer([
    {
      match: 'Issue #44',
      steps: [
        { tool: 'Bash', input: { command: 'echo auto > auto.txt && git add -A && git commit -qm "feat: auto"' } },
        { text: 'auto done' },
      ],
    },
  ]);
  try {
    const r = await runClaude(repo, server, 'Issue #44', { args: ['--permission-mode', 'auto'] });
    assert.is(r.code, 0, describe(r));
    assert.is(r.json?.result, 'auto done');
    assert.equal(r.json?.permission_denials, [], describe(r));
    assert.match(git(repo, 'log', '-1', '--format=%s'), 'feat: auto');
    // With CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC the safety check is server-side
    // (safeguard_results in message_delta): no side query, nothing on stderr.
    assert.equal(
      server.requests.map((q) => q.match),
      ['Issue #44', 'Issue #44'],
    );
    assert.is(r.stderr, '');
  } finally {
    await server.close();
  }
});

test('claude: auto mode against a plain gateway (no safety check) refuses Bash and exits 1 with is_error false', async () => {
  const repo = await makeRepo();
  const server = await startModelServer(
    [
      {
        match: 'Issue #47',
        steps: [
          { tool: 'Write', input: { file_path: 'plain.txt', content: 'plain\n' } },
          { tool: 'Bash', input: { command: 'git add -A && git commit -qm "feat: plain"' } },
          { text: 'STATUS: COMPLETE' },
        ],
      },
    ],
    { autoModeClassifier: 'ok' },
  );
  try {
    const r = await runClaude(repo, server, 'Issue #47', { args: ['--permission-mode', 'auto'] });
    assert.is(r.code, 1, describe(r));
    assert.is(r.json?.is_error, false, describe(r));
    assert.is(r.json?.result, 'STATUS: COMPLETE');
    const denied = (r.json?.permission_denials as Array<{ tool_name: string }>).map((d) => d.tool_name);
    assert.equal(denied, ['Bash']);
    assert.match(r.stderr, /Auto mode can't check actions/);
    assert.is(await fs.readFile(path.join(repo, 'plain.txt'), 'utf8'), 'plain\n');
    assert.match(git(repo, 'log', '--format=%s'), /^init\n$/);
  } finally {
    await server.close();
  }
});

test('claude: an always-failing server (500) ends in an error, bounded by CLAUDE_CODE_MAX_RETRIES', async () => {
  const repo = await makeRepo();
  const server = await startModelServer([
    { match: 'Issue #45', failFirst: { count: 100, status: 500 }, steps: [{ text: 'never' }] },
  ]);
  try {
    const r = await runClaude(repo, server, 'Issue #45', { env: { CLAUDE_CODE_MAX_RETRIES: '1' } });
    assert.ok(r.code !== 0 || r.json?.is_error === true, describe(r));
    assert.is(r.json?.is_error, true, describe(r));
    assert.is(r.json?.api_error_status, 500);
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
    // 1 try + 1 retry.
    assert.is(server.requests.filter((q) => q.match === 'Issue #45').length, 2, JSON.stringify(server.requests));
    assert.is(git(repo, 'status', '--porcelain'), '');
  } finally {
    await server.close();
  }
});

test('claude: one 529 overloaded answer is retried, then the session succeeds', async () => {
  const repo = await makeRepo();
  const server = await startModelServer([
    {
      match: 'Issue #46',
      failFirst: { count: 1, status: 529 },
      steps: [{ tool: 'Write', input: { file_path: 'ok.txt', content: 'ok\n' } }, { text: 'recovered' }],
    },
  ]);
  try {
    const r = await runClaude(repo, server, 'Issue #46');
    assert.is(r.code, 0, describe(r));
    assert.is(r.json?.result, 'recovered');
    assert.is(r.json?.is_error, false);
    assert.is(await fs.readFile(path.join(repo, 'ok.txt'), 'utf8'), 'ok\n');
    assert.is(server.requests.filter((q) => q.match === 'Issue #46').length, 3);
  } finally {
    await server.close();
  }
});

test('server: setScenario swaps the agents and resets failure counts', async () => {
  const server = await startModelServer([{ match: 'A', failFirst: { count: 1, status: 500 }, steps: [{ text: 'a' }] }]);
  try {
    const ask = async (text: string) => {
      const res = await fetch(server.url + '/v1/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', tools: [{ name: 'Bash' }], messages: [{ role: 'user', content: text }] }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { content?: Array<{ text?: string }>; error?: { type: string } },
      };
    };
    const failed = await ask('A');
    assert.is(failed.status, 500);
    assert.is(failed.body.error?.type, 'api_error');
    assert.is((await ask('A')).body.content?.[0]?.text, 'a');
    server.setScenario([{ match: 'B', failFirst: { count: 1, status: 529 }, steps: [{ text: 'b' }] }]);
    const overloaded = await ask('B');
    assert.is(overloaded.status, 529);
    assert.is(overloaded.body.error?.type, 'overloaded_error');
    assert.is((await ask('B')).body.content?.[0]?.text, 'b');
    assert.is((await ask('A')).body.content?.[0]?.text, 'ok');
  } finally {
    await server.close();
  }
});

test.run();
