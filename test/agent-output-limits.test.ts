/**
 * Agents whose output is too big or hostile for a naive runner (docs/limits.md), through the real CLI, each landing
 * within two runs: 600 MB on stdout (the runner's peak RSS stays under 300 MB), 200 KB of NOTES relayed into a
 * wave-2 agent that is the real `claude` CLI against the scripted model server, NUL bytes in NOTES (relayed to the
 * real CLI too), 3000 commits in one item.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startModelServer, type ModelServer } from '../tasks/demo/model-server.ts';
import { bash, commitAll, reportStep, write } from '../tasks/demo/scenario.ts';
import { claudeEnv, git, makeRepo, readStateFile, tempDir, type TestRepo } from './support/fixture.ts';
import { runCliMeasured, type MeasuredResult } from './support/cli.ts';
import { rigItems, rigPlan, show, type RigItem } from './support/wave-rig.ts';

/** `run 7 --repo <dir> --no-push`, the runner's memory watched. */
function run(repo: TestRepo, env: Readonly<Record<string, string>> = {}, timeoutMs = 240_000): Promise<MeasuredResult> {
  return runCliMeasured('run', ['7', '--repo', repo.dir, '--no-push'], { env, timeoutMs });
}

/** Run until the milestone has landed, at most twice; the runs made. */
async function landWithinTwoRuns(
  repo: TestRepo,
  env: Readonly<Record<string, string>> = {},
): Promise<MeasuredResult[]> {
  const runs = [await run(repo, env)];
  if (!readStateFile(repo).land) runs.push(await run(repo, env));
  const last = runs[runs.length - 1] as MeasuredResult;
  assert.ok(readStateFile(repo).land, `not landed after ${runs.length} runs: ${runs.map(show).join('\n')}`);
  assert.is(last.code, 0, show(last));
  return runs;
}

/** Tools folder with one sh agent per file; `command:` runs it. */
function agentFile(dir: string, name: string, body: string): { command: string } {
  const file = path.join(dir, `${name}.sh`);
  writeFileSync(file, `set -e\n${body}\n`);
  return { command: `sh '${file}'` };
}

/** An item whose agent is the real claude CLI. */
const CLAUDE_ITEM = {
  agent: 'claude',
  'permission-mode': 'default',
  'allowed-tools': ['Bash', 'Edit', 'Write', 'Read'],
  timeout: '2m',
};

/** sh that commits `file` with `text` and prints a report whose NOTES come from the sh expression `notes`. */
const commitAndReport = (file: string, notes: string) =>
  `printf '%s\\n' "$WM_ISSUE" > ${file} && git add ${file} && git commit -qm "add ${file}"
printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\n${file}\\nNOTES: ' "$WM_BRANCH"
${notes}
printf '\\n'`;

const MiB = 1024 * 1024;

test("600 MB on an agent's stdout: the milestone lands, the report is read from its tail, the runner stays under 300 MB", async () => {
  const tools = tempDir('wm-tools-');
  const chatty = `printf '%s\\n' "$WM_ISSUE" > chatty.txt && git add chatty.txt && git commit -qm "add chatty.txt"
head -c 629145600 /dev/zero | tr '\\0' x
printf '\\nSTATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\nchatty.txt\\nNOTES: printed 600 MB first\\n' "$WM_BRANCH"`;
  const waves: RigItem[][] = [[{ issue: 31, title: 'Chatty', extra: agentFile(tools, 'chatty', chatty) }]];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'false', extra: { timeout: '3m', retries: 0 } }),
    items: rigItems(waves),
  });
  try {
    const runs = await landWithinTwoRuns(repo);
    const stdoutFile = path.join(repo.stateDir, 'items', '31', 'item-1.stdout');
    assert.ok(statSync(stdoutFile).size > 600 * MiB, 'the whole output is kept in the item files');
    const st = readStateFile(repo);
    assert.is(st.items['31'].status, 'complete');
    assert.is(st.items['31'].result.report.notes, 'printed 600 MB first');
    assert.is(await git(repo.dir, 'show', 'main:chatty.txt'), '31');
    const peak = Math.max(...runs.map((r) => r.peakKiB));
    console.log(
      `    runner peak RSS ${Math.round(peak / 1024)} MiB over ${runs.reduce((n, r) => n + r.readings, 0)} readings; state.json ${statSync(path.join(repo.stateDir, 'state.json')).size} bytes`,
    );
    assert.ok(
      runs.every((r) => r.readings > 0),
      "the runner's memory was read",
    );
    assert.ok(peak < 300 * 1024, `peak RSS ${peak} KiB`);
    assert.ok(statSync(path.join(repo.stateDir, 'state.json')).size < 100_000);
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('540 MB committed in 60 files under the size limit: the change is parsed as it streams, lands, runner under 300 MB', async () => {
  const tools = tempDir('wm-tools-');
  // Before: the whole patch was read into one string, over V8's limit (512 Mi characters); the runner died judging.
  const bulky = `i=1
while [ $i -le 60 ]; do yes "line $i of a generated fixture, long enough" | head -c 9000000 > big-$i.txt; i=$((i + 1)); done
git add -A && git commit -qm "add 60 files of 9 MB"
printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\n' "$WM_BRANCH"
ls big-*.txt
printf 'NOTES: 540 MB of generated files\\n'`;
  const waves: RigItem[][] = [[{ issue: 41, title: 'Bulky', extra: agentFile(tools, 'bulky', bulky) }]];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'false', extra: { timeout: '3m', retries: 0 } }),
    items: rigItems(waves),
  });
  try {
    const runs = await landWithinTwoRuns(repo);
    const st = readStateFile(repo);
    assert.is(st.items['41'].status, 'complete');
    assert.equal(st.items['41'].result.flags, []);
    assert.is(await git(repo.dir, 'ls-tree', '--name-only', 'main', 'big-60.txt'), 'big-60.txt');
    const peak = Math.max(...runs.map((r) => r.peakKiB));
    console.log(`    runner peak RSS ${Math.round(peak / 1024)} MiB judging a 540 MB change`);
    assert.ok(
      runs.every((r) => r.readings > 0),
      "the runner's memory was read",
    );
    assert.ok(peak < 300 * 1024, `peak RSS ${peak} KiB`);
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('an agent that leaves a named pipe in place of its output file: the runner reads it as empty, never waits on it', async () => {
  const tools = tempDir('wm-tools-');
  // The wrapper keeps writing to the file it opened; the path now names a pipe nobody writes to. Opened the blocking
  // way, reading the output after the agent ended waited for a writer forever, and the whole runner with it.
  const piped = `${commitAndReport('piped.txt', "printf 'then a pipe'")}
rm -f "$WM_OUT" && mkfifo "$WM_OUT"`;
  const waves: RigItem[][] = [
    [
      { issue: 43, title: 'Piped', extra: agentFile(tools, 'piped', piped) },
      { issue: 44, title: 'Plain', extra: agentFile(tools, 'plain', commitAndReport('plain.txt', "printf 'ok'")) },
    ],
  ];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'false', extra: { timeout: '2m', retries: 0 } }),
    items: rigItems(waves),
  });
  try {
    const result = await run(repo);
    const st = readStateFile(repo);
    assert.is(st.items['43'].status, 'failed', show(result));
    assert.match(
      st.items['43'].failure,
      /^printed nothing: .*item-1\.stdout is not a regular file \(replaced while the agent ran\?\): it was not read$/,
      st.items['43'].failure,
    );
    assert.is(st.items['44'].status, 'complete', show(result));
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test('200 KB of NOTES in wave 1, relayed into a wave-2 agent that is the real claude CLI: capped in the prompt it gets on stdin; lands', async () => {
  const tools = tempDir('wm-tools-');
  const home = tempDir('wm-claude-home-');
  const bodies: string[] = [];
  const server: ModelServer = await startModelServer(
    [
      {
        match: 'Issue #52:',
        steps: [
          write('reader.txt', 'read the relay\n'),
          bash('git add reader.txt'),
          commitAll('feat: reader (#52)'),
          reportStep({ status: 'COMPLETE', files: ['reader.txt'], commits: ['feat: reader (#52)'], notes: 'read it' }),
        ],
      },
    ],
    { onRequest: (r) => bodies.push(JSON.stringify(r.body ?? '')) },
  );
  // The notes: a start, 200 KB, an end that must not reach the prompt.
  const notes = `printf 'NOTES-START '; head -c 204800 /dev/zero | tr '\\0' n; printf ' NOTES-END'`;
  const waves: RigItem[][] = [
    [{ issue: 51, title: 'Verbose', extra: agentFile(tools, 'verbose', commitAndReport('verbose.txt', notes)) }],
    [
      {
        issue: 52,
        title: 'Reader',
        dependsOn: [51],
        extra: CLAUDE_ITEM,
      },
    ],
  ];
  // #52's description alone is 150 KB: its prompt could not be one argument (128 KiB at most).
  const items = rigItems(waves).map((i) =>
    i.issue === 52 ? { ...i, description: `Read the relay. ${'Context line.\n'.repeat(10_000)}DESCRIPTION-END` } : i,
  );
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'false', extra: { timeout: '1m', retries: 0 } }),
    items,
  });
  try {
    const runs = await landWithinTwoRuns(repo, claudeEnv(server.url, home));
    const st = readStateFile(repo);
    assert.is(st.items['52'].status, 'complete', show(runs[runs.length - 1] as MeasuredResult));
    assert.is(await git(repo.dir, 'show', 'main:reader.txt'), 'read the relay');
    const kept = st.items['51'].result.report.notes as string;
    assert.ok(kept.startsWith('NOTES-START nnn'));
    assert.match(kept, /… \(\d+ more characters; full text in .*items\/51\/item-1\.stdout\)$/);
    const toClaude = bodies.find((b) => b.includes('Issue #52:')) ?? '';
    assert.ok(toClaude.includes('NOTES-START nnn'), 'the relay reached claude');
    assert.ok(
      /more characters; full text in [^"]*items\/51\/item-1\.stdout\)/.test(toClaude),
      'with the capped notes marker',
    );
    assert.ok(toClaude.includes('DESCRIPTION-END'), 'the whole 150 KB prompt reached claude');
    assert.not.ok(toClaude.includes('NOTES-END'), 'the cut part did not');
    const prompt = readFileSync(path.join(repo.stateDir, 'items', '52', 'prompt-1.md'), 'utf8');
    assert.ok(prompt.length > 128 * 1024 && prompt.length < 200 * 1024, `prompt of ${prompt.length} characters`);
  } finally {
    await server.close();
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});

test('NUL bytes in NOTES, relayed into a wave-2 agent that is the real claude CLI: removed before state, relay and prompt; lands', async () => {
  const tools = tempDir('wm-tools-');
  const home = tempDir('wm-claude-home-');
  const bodies: string[] = [];
  const server: ModelServer = await startModelServer(
    [
      {
        match: 'Issue #62:',
        steps: [
          write('next.txt', 'next\n'),
          bash('git add next.txt'),
          commitAll('feat: next (#62)'),
          reportStep({ status: 'COMPLETE', files: ['next.txt'], notes: 'ok' }),
        ],
      },
    ],
    { onRequest: (r) => bodies.push(JSON.stringify(r.body ?? '')) },
  );
  const waves: RigItem[][] = [
    [
      {
        issue: 61,
        title: 'Nul',
        extra: agentFile(tools, 'nul', commitAndReport('nul.txt', `printf 'before\\000after\\001\\033[0m end'`)),
      },
    ],
    [
      {
        issue: 62,
        title: 'Next',
        dependsOn: [61],
        extra: CLAUDE_ITEM,
      },
    ],
  ];
  const repo = await makeRepo({ plan: rigPlan(waves, { command: 'false' }), items: rigItems(waves) });
  try {
    await landWithinTwoRuns(repo, claudeEnv(server.url, home));
    const st = readStateFile(repo);
    assert.is(st.items['61'].result.report.notes, 'beforeafter[0m end');
    assert.not.match(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'), /\\u000[01]|\\u001b/);
    const prompt = readFileSync(path.join(repo.stateDir, 'items', '62', 'prompt-1.md'), 'utf8');
    assert.match(prompt, '- Design notes: beforeafter[0m end');
    assert.not.match(prompt, /[\u0000-\u0008\u000b-\u001f]/);
    const toClaude = bodies.find((b) => b.includes('Issue #62:')) ?? '';
    assert.ok(
      toClaude.includes('- Design notes: beforeafter[0m end'),
      'the relay reached claude without the control characters',
    );
    assert.is(await git(repo.dir, 'show', 'main:next.txt'), 'next');
  } finally {
    await server.close();
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});

test('3000 commits in one item: lands; state.json stays small; the relay lists 20 and says how many more', async () => {
  const tools = tempDir('wm-tools-');
  // git fast-import makes the 3000 commits in one process; the worktree is then reset to the new tip.
  const many = `base=$(git rev-parse HEAD)
i=1
{
  while [ $i -le 3000 ]; do
    printf 'commit refs/heads/%s\\ncommitter Agent <agent@example.com> %d +0000\\ndata <<EOM\\nstep %d of 3000\\nEOM\\n' "$WM_BRANCH" $((1700000000 + i)) $i
    if [ $i = 1 ]; then printf 'from %s\\n' "$base"; fi
    printf 'M 100644 inline many.txt\\ndata <<EOM\\n%d\\nEOM\\n\\n' $i
    i=$((i + 1))
  done
} | git fast-import --quiet
git reset -q --hard
printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\nmany.txt\\nCOMMITS:\\n' "$WM_BRANCH"
git log --format='%h %s' "$base..HEAD"
printf 'NOTES: 3000 commits\\n'`;
  const waves: RigItem[][] = [
    [{ issue: 71, title: 'Many', extra: agentFile(tools, 'many', many) }],
    [
      {
        issue: 72,
        title: 'After',
        dependsOn: [71],
        extra: agentFile(
          tools,
          'after',
          `cp "$WM_PROMPT_FILE" '${tools}/prompt-72.md'\n${commitAndReport('after.txt', "printf 'ok'")}`,
        ),
      },
    ],
  ];
  const repo = await makeRepo({
    plan: rigPlan(waves, { command: 'false', extra: { timeout: '2m', retries: 0 } }),
    items: rigItems(waves),
  });
  try {
    await landWithinTwoRuns(repo);
    assert.is(await git(repo.dir, 'show', 'main:many.txt'), '3000');
    assert.is(await git(repo.dir, 'rev-list', '--count', '--grep=of 3000$', 'main'), '3000', 'all 3000 commits landed');
    const st = readStateFile(repo);
    const size = statSync(path.join(repo.stateDir, 'state.json')).size;
    console.log(`    state.json ${size} bytes`);
    assert.ok(size < 300_000, `state.json is ${size} bytes`);
    assert.is(st.items['71'].result.commits.length, 21);
    assert.match(
      st.items['71'].result.commits[20].subject,
      /^… \(2980 more; full list: git log --oneline [0-9a-f]{12}\.\.[0-9a-f]{12}\)$/,
    );
    assert.is(st.items['71'].result.report.commits.length, 21);
    const prompt = readFileSync(path.join(tools, 'prompt-72.md'), 'utf8');
    assert.match(prompt, / {2}- … \(2980 more; full list: git log --oneline [0-9a-f]{12}\.\.[0-9a-f]{12}\)\n/);
    assert.ok(prompt.length < 20_000, `prompt of ${prompt.length} characters`);
    assert.ok(existsSync(path.join(repo.stateDir, 'relay', 'wave-1.md')));
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
