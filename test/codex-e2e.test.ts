/**
 * The whole product with the REAL `codex` CLI (@openai/codex 0.169, node_modules/.bin/codex) as every agent, offline:
 * the scripted Responses API server (test/support/responses-server.ts) runs in this process, `scripts/run.mts` in a
 * child
 * process, and codex really runs the scripted `exec_command` tool calls in the worktrees (agents really write and
 * commit),
 * inside its own `workspace-write` sandbox with the git directories the adapter adds (docs/codex-cli.md).
 *
 * - a 2-wave milestone of 3 items lands on a bare origin; state.json has codex's usage, turns and thread id;
 * - failures: an item whose server answers HTTP 429 (codex does not retry it) → failed with codex's message, retried
 *   once, its dependant skipped; an agent that claims COMPLETE without committing → failed; an item whose endpoint
 *   has nothing listening (codex then retries forever) → the runner's timeout kills its process group, failed;
 *   the rest lands; exit 3.
 *
 * The test's CODEX_HOME has a config.toml that keeps codex offline (no analytics, no plugin sync: measured with strace,
 * these were its only lookups) and takes /tmp out of the sandbox's writable roots, so the test repos under /tmp are
 * sandboxed like any repository.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  RESPONSES_USAGE_PER_REQUEST,
  startResponsesServer,
  type ResponsesAgent,
  type ResponsesServer,
} from './support/responses-server.ts';
import { shQuote } from '../tasks/demo/scenario.ts';
import {
  git,
  gitOk,
  makeRepo,
  readEvents,
  readStateFile,
  ROOT,
  runCli,
  tempDir,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { assertMergesHaveTwoParents, describeRun, keepRequested } from './support/e2e.ts';

const CODEX_BIN = process.env.CODEX_BIN ?? path.join(ROOT, 'node_modules', '.bin', 'codex');
const keep = keepRequested;
const describe = describeRun;

/**
 * `defaults:` of a plan whose agents are the real codex against the server at `url` (retries bounded, so a dead server
 * fails fast).
 */
function codexDefaults(url: string): string {
  return [
    'defaults:',
    '  agent: codex',
    '  model: gpt-5.5',
    '  timeout: 2m',
    '  retries: 1',
    '  concurrency: 4',
    `  agent-args: ${providerArgs(url)}`,
  ].join('\n');
}

/**
 * `agent-args` (a YAML flow list) for the test provider at `url`; `bounded`: a dead endpoint fails at once instead of
 * being retried forever.
 */
function providerArgs(url: string, bounded = true): string {
  const provider = `model_providers.wmtest={name="wmtest", base_url="${url}", wire_api="responses", request_max_retries=0, stream_max_retries=0}`;
  const args = [
    '-c',
    'model_provider=wmtest',
    '-c',
    provider,
    ...(bounded ? ['--disable', 'unbounded_connection_retries'] : []),
  ];
  return `[${args.map((a) => `'${a}'`).join(', ')}]`;
}

/**
 * Environment of a runner whose agents are the real codex: an isolated CODEX_HOME (and HOME) with the offline config.
 */
function codexEnv(home: string): Record<string, string> {
  const codexHome = path.join(home, '.codex');
  mkdirSync(codexHome, { recursive: true });
  writeFileSync(
    path.join(codexHome, 'config.toml'),
    [
      '# Offline: these were the only outside lookups codex 0.169 made (ab.chatgpt.com; api.github.com and chatgpt.com).',
      '[analytics]',
      'enabled = false',
      '',
      '[features]',
      'plugins = false',
      '',
      '# The test repos live under /tmp: make /tmp as read-only to the sandbox as any other place.',
      '[sandbox_workspace_write]',
      'exclude_slash_tmp = true',
      'exclude_tmpdir_env_var = true',
      '',
    ].join('\n'),
  );
  return { CODEX_BIN, CODEX_HOME: codexHome, HOME: home };
}

/** An item agent: write `<name>.txt`, commit it, report COMPLETE. */
function committingAgent(issue: number, name: string, branch: string): ResponsesAgent {
  const file = `${name}.txt`;
  const message = `feat: ${name} (#${issue})`;
  return {
    match: `Issue #${issue}:`,
    steps: [
      { cmd: `printf '%s\\n' ${shQuote(name)} > ${file} && echo wrote ${file}` },
      { cmd: `git add -A && git commit -q -m ${shQuote(message)} && git log -1 --format=%s` },
      {
        text: `Done.\n\nSTATUS: COMPLETE\nBRANCH: ${branch}\nFILES_CHANGED:\n${file}\nCOMMITS:\n${message}\nTASKS_BLOCKED: none\nNOTES: wrote ${file}`,
      },
    ],
  };
}

const requestsFor = (server: ResponsesServer, match: string) => server.requests.filter((r) => r.match === match);

/** The merge subjects, sorted (every merge has two parents). */
const sortedMerges = async (dir: string, rev: string): Promise<string[]> =>
  (await assertMergesHaveTwoParents(dir, rev)).sort();

// ---------------------------------------------------------------------------------------------------------
// Success: 2 waves, 3 items, landed on origin.

const Landing = suite('codex: a 2-wave milestone lands');
const ok = {} as { server: ResponsesServer; repo: TestRepo; home: string; run: CliResult; ms: number };

Landing.before(async () => {
  ok.server = await startResponsesServer([
    committingAgent(41, 'alpha', 'work/7-41-alpha'),
    committingAgent(42, 'beta', 'work/7-42-beta'),
    committingAgent(43, 'gamma', 'work/7-43-gamma'),
  ]);
  ok.home = tempDir('wm-codex-home-');
  const plan = `milestone:
  number: 7
  title: "Codex end to end"
groomed: true
waves:
  - wave: 1
    parallel: true
    items:
      - {issue: 41, title: "Alpha", depends-on: []}
      - {issue: 42, title: "Beta", depends-on: []}
  - wave: 2
    parallel: true
    items:
      - {issue: 43, title: "Gamma", depends-on: [41]}
${codexDefaults(ok.server.url)}
`;
  ok.repo = await makeRepo({
    plan,
    origin: true,
    items: [
      { issue: 41, title: 'Alpha' },
      { issue: 42, title: 'Beta' },
      { issue: 43, title: 'Gamma' },
    ],
  });
  const started = Date.now();
  ok.run = await runCli('run', ['7', '--repo', ok.repo.dir, '--yes'], { env: codexEnv(ok.home), timeoutMs: 100_000 });
  ok.ms = Date.now() - started;
});

Landing.after(async () => {
  await ok.server.close();
  if (keep()) return console.log(`kept ${ok.repo.root} and ${ok.home}`);
  ok.repo.cleanup();
  rmSync(ok.home, { recursive: true, force: true });
});

Landing('the run exits 0 and lands main on origin', async () => {
  assert.is(ok.run.code, 0, `${describe(ok.run)}\nafter ${ok.ms} ms`);
  assert.is(await git(ok.repo.dir, 'rev-parse', 'main'), await git(ok.repo.origin as string, 'rev-parse', 'main'));
  assert.is(
    await git(ok.repo.origin as string, 'log', '-1', '--format=%s', 'main'),
    'Merge milestone 7: Codex end to end',
  );
});

Landing(
  'every agent was the real codex: 3 requests each (2 commands, the report), the commands ran and the commits worked in the sandbox',
  () => {
    for (const issue of [41, 42, 43]) {
      const reqs = requestsFor(ok.server, `Issue #${issue}:`);
      assert.equal(
        reqs.map((r) => r.step),
        [0, 1, 2],
        `#${issue} steps`,
      );
      assert.match(reqs[1]?.toolOutput ?? '', /Process exited with code 0[\s\S]*wrote /, `#${issue} write`);
      assert.match(
        reqs[2]?.toolOutput ?? '',
        /Process exited with code 0[\s\S]*feat: /,
        `#${issue} commit: ${reqs[2]?.toolOutput}`,
      );
    }
    assert.ok(
      ok.server.requests.every((r) => r.match !== null),
      'codex made no request the scenario does not know',
    );
    const spawned = readEvents(ok.repo).filter((e) => e.type === 'agent-spawned');
    assert.is(spawned.length, 3);
  },
);

Landing('main on origin has every item, each committed by its agent and merged with two parents', async () => {
  for (const name of ['alpha', 'beta', 'gamma'])
    assert.is(await git(ok.repo.origin as string, 'show', `main:${name}.txt`), name);
  const log = (await git(ok.repo.origin as string, 'log', '--format=%s', 'main')).split('\n');
  for (const subject of ['feat: alpha (#41)', 'feat: beta (#42)', 'feat: gamma (#43)'])
    assert.ok(log.includes(subject), `main has "${subject}"`);
  assert.equal(await sortedMerges(ok.repo.origin as string, 'main'), [
    'Merge #41: Alpha',
    'Merge #42: Beta',
    'Merge #43: Gamma',
  ]);
  for (const issue of [41, 42, 43])
    assert.match(await git(ok.repo.origin as string, 'show', `main:plan/backlog/${issue}.md`), /status: done/);
});

Landing('state.json: usage from turn.completed, turns, the thread id; no dollar cost', () => {
  const st = readStateFile(ok.repo);
  const u = RESPONSES_USAGE_PER_REQUEST;
  for (const issue of ['41', '42', '43']) {
    const item = st.items[issue];
    assert.is(item.status, 'complete');
    assert.is(item.attempts, 1);
    const r = item.result;
    // codex sums the usage of the turn's 3 model calls.
    assert.equal(r.usage, {
      input_tokens: 3 * u.input_tokens,
      cached_input_tokens: 3 * u.cached_tokens,
      cache_write_input_tokens: 0,
      output_tokens: 3 * u.output_tokens,
      reasoning_output_tokens: 0,
    });
    assert.is(r.turns, 3, 'two commands and the message');
    assert.is(r.costUsd, null);
    assert.match(r.sessionId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.is(r.report.status, 'COMPLETE');
  }
  const report = readFileSync(path.join(ok.repo.stateDir, 'report.md'), 'utf8');
  const rows = report.split('\n').filter((l) => /^\| \d \| #4[1-3] /.test(l));
  assert.is(rows.length, 3, report);
  for (const row of rows) assert.is(row.split('|').map((c) => c.trim())[8], '3', row);
});

Landing('nothing left behind', async () => {
  assert.is(await git(ok.repo.dir, 'branch', '--list', 'work/*', 'milestone/*'), '');
  assert.is(await git(ok.repo.dir, 'status', '--porcelain'), '');
  assert.not.ok(existsSync(path.join(ok.repo.dir, 'worktrees', '7-41-alpha')));
});

Landing.run();

// ---------------------------------------------------------------------------------------------------------
// Failures: HTTP 429 → failed, dependant skipped; COMPLETE without a commit → failed; the rest lands; exit 3.

const Failures = suite('codex: failures');
const bad = {} as { server: ResponsesServer; repo: TestRepo; home: string; run: CliResult; deadUrl: string };

Failures.before(async () => {
  const lazy: ResponsesAgent = {
    match: 'Issue #52:',
    steps: [
      { cmd: "printf 'all talk\\n' > talk.txt" },
      {
        text: 'STATUS: COMPLETE\nBRANCH: work/7-52-talker\nFILES_CHANGED:\ntalk.txt\nCOMMITS:\nabc1234 feat: talk\nNOTES: all done, trust me',
      },
    ],
  };
  bad.server = await startResponsesServer([
    { ...committingAgent(51, 'limited', 'work/7-51-limited'), failFirst: { count: 1000, status: 429 } },
    lazy,
    committingAgent(53, 'worker', 'work/7-53-worker'),
    committingAgent(54, 'after', 'work/7-54-after'),
  ]);
  bad.home = tempDir('wm-codex-home-');
  // A port with nothing listening: a server's, closed.
  const dead = await startResponsesServer([]);
  bad.deadUrl = dead.url;
  await dead.close();
  const plan = `milestone:
  number: 7
  title: "Codex failures"
groomed: true
waves:
  - wave: 1
    parallel: true
    items:
      - {issue: 51, title: "Limited", depends-on: []}
      - {issue: 52, title: "Talker", depends-on: []}
      - {issue: 53, title: "Worker", depends-on: []}
      - {issue: 55, title: "Stuck", depends-on: [], timeout: 4s, retries: 0, agent-args: ${providerArgs(bad.deadUrl, false)}}
  - wave: 2
    parallel: true
    items:
      - {issue: 54, title: "After", depends-on: [51]}
${codexDefaults(bad.server.url)}
`;
  bad.repo = await makeRepo({
    plan,
    origin: true,
    items: [
      { issue: 51, title: 'Limited' },
      { issue: 52, title: 'Talker' },
      { issue: 53, title: 'Worker' },
      { issue: 54, title: 'After' },
      { issue: 55, title: 'Stuck' },
    ],
  });
  bad.run = await runCli('run', ['7', '--repo', bad.repo.dir, '--yes'], {
    env: codexEnv(bad.home),
    timeoutMs: 100_000,
  });
});

Failures.after(async () => {
  await bad.server.close();
  if (keep()) return console.log(`kept ${bad.repo.root} and ${bad.home}`);
  bad.repo.cleanup();
  rmSync(bad.home, { recursive: true, force: true });
});

Failures('exit 3, naming the failed and the skipped items', () => {
  assert.is(bad.run.code, 3, describe(bad.run));
  const output = bad.run.stdout + bad.run.stderr;
  assert.match(output, /#51 failed/, describe(bad.run));
  assert.match(output, /#52 failed/, describe(bad.run));
  assert.match(output, /#54 skipped/, describe(bad.run));
  assert.match(output, /#55 failed/, describe(bad.run));
  assert.match(output, /429/, 'the failure names the HTTP status');
});

Failures(
  "HTTP 429: codex gives up at once (1 request per attempt), failed after the retry with codex's message",
  () => {
    const st = readStateFile(bad.repo);
    const limited = st.items['51'];
    assert.is(limited.status, 'failed');
    assert.is(limited.attempts, 2, 'one retry, as the plan says');
    assert.equal(
      requestsFor(bad.server, 'Issue #51:').map((r) => r.status),
      [429, 429],
    );
    assert.is(
      limited.failure.includes('codex turn failed: exceeded retry limit, last status: 429 Too Many Requests'),
      true,
      limited.failure,
    );
    assert.is(limited.merge, null);
    assert.is(st.items['54'].status, 'skipped');
    assert.match(st.items['54'].skipReason, /#51/);
    assert.is(st.items['54'].attempts, 0);
    assert.is(requestsFor(bad.server, 'Issue #54:').length, 0, 'a skipped item never starts an agent');
  },
);

Failures(
  'COMPLETE without a commit: failed ("committed nothing"), the uncommitted file reported, never merged',
  async () => {
    const st = readStateFile(bad.repo);
    const talker = st.items['52'];
    assert.is(talker.status, 'failed');
    assert.match(talker.failure, /committed nothing/);
    assert.is(talker.attempts, 2);
    assert.is(requestsFor(bad.server, 'Issue #52:').length, 4, 'two codex sessions of 2 model calls each');
    assert.equal(talker.result.commits, []);
    assert.ok(talker.result.uncommitted.includes('talk.txt'), 'the uncommitted file is reported');
    assert.is(
      talker.result.usage.input_tokens,
      2 * RESPONSES_USAGE_PER_REQUEST.input_tokens,
      'the session still has its usage',
    );
    assert.not.ok(await gitOk(bad.repo.origin as string, 'cat-file', '-e', 'main:talk.txt'));
    assert.ok(
      await gitOk(bad.repo.dir, 'rev-parse', '-q', '--verify', 'refs/heads/work/7-52-talker'),
      'the unmerged branch is kept for a human',
    );
  },
);

Failures(
  "nothing listening (codex retries forever): the runner's timeout kills the process group, codex included",
  () => {
    const st = readStateFile(bad.repo);
    const stuck = st.items['55'];
    assert.is(stuck.status, 'failed');
    assert.is(stuck.attempts, 1);
    assert.match(stuck.failure, /^timed out after 4s; its process group was killed/);
    const port = new URL(bad.deadUrl).port;
    const left = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('codex') && l.includes(`127.0.0.1:${port}/`));
    assert.equal(left, [], 'no codex process left');
  },
);

Failures('the rest lands on origin', async () => {
  const st = readStateFile(bad.repo);
  assert.is(st.items['53'].status, 'complete');
  assert.is(await git(bad.repo.origin as string, 'show', 'main:worker.txt'), 'worker');
  assert.is(await git(bad.repo.origin as string, 'rev-parse', 'main'), await git(bad.repo.dir, 'rev-parse', 'main'));
  assert.equal(await sortedMerges(bad.repo.origin as string, 'main'), ['Merge #53: Worker']);
});

Failures.run();
