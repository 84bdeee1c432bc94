/**
 * `scripts/plan.mts <N>` on every broken plan (docs/errors.md, docs/plan-format.md): exit 2, the golden diagnostics on
 * stderr with the path as the user wrote it, no stack trace, and nothing changed in the repository.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess } from './support/cli.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const brokenDir = fileURLToPath(new URL('./fixtures/broken-plans/', import.meta.url));
const PLAN_PATH = 'plan/milestone-7-dispatch.yaml';
const script = path.join(root, 'scripts', 'plan.mts');

const golden = JSON.parse(readFileSync(path.join(brokenDir, 'expected.json'), 'utf8')) as Record<string, string>;
const fixtures = readdirSync(brokenDir)
  .filter((n) => n.endsWith('.yaml'))
  .sort();

/** Fixtures checked at a time. */
const PARALLEL = 2;
/** Fixtures per uvu test: a few tests, each a loop, so one failure report lists every bad fixture of its batch. */
const BATCHES = 4;

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { ...options, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Git with no user or system configuration in the way. */
const gitEnv: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  // Reading the snapshot must not itself refresh the index.
  GIT_OPTIONAL_LOCKS: '0',
};

async function git(repo: string, ...args: string[]): Promise<string> {
  const r = await run('git', args, { cwd: repo, env: gitEnv });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${repo} (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

/** A fresh repository on `main` whose one commit holds a README and `fixture` as the milestone 7 plan. */
async function makeRepo(fixture: string): Promise<string> {
  const repo = await mkdtemp(path.join(os.tmpdir(), 'wm-plan-cli-'));
  await git(repo, 'init', '-q', '-b', 'main');
  await writeFile(path.join(repo, 'README.md'), '# sample\n');
  await mkdir(path.join(repo, 'plan'));
  await copyFile(path.join(brokenDir, fixture), path.join(repo, PLAN_PATH));
  await git(repo, 'add', '-A');
  await git(repo, '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'plan');
  return repo;
}

/**
 * Every file name under `dir`, recursively, sorted (`.git/objects` left out: reading a plan writes no objects anyway).
 */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix + entry.name;
    if (rel === '.git/objects') continue;
    out.push(entry.isDirectory() ? `${rel}/` : rel);
    if (entry.isDirectory()) out.push(...(await listTree(path.join(dir, entry.name), `${rel}/`)));
  }
  return out.sort();
}

/** What a run must leave exactly as it was. */
async function snapshot(repo: string): Promise<string> {
  const parts = [
    ['status', await git(repo, 'status', '--porcelain', '--untracked-files=all', '--ignored')],
    ['refs', await git(repo, 'for-each-ref')],
    ['stash', await git(repo, 'stash', 'list')],
    ['worktrees', await git(repo, 'worktree', 'list', '--porcelain')],
    ['HEAD', await readFile(path.join(repo, '.git', 'HEAD'), 'utf8')],
    ['files', (await listTree(repo)).join('\n')],
  ];
  return parts.map(([name, text]) => `== ${name}\n${text}`).join('\n');
}

/** The lines only one side has, `-` before and `+` after, with the section they are in. */
function lineDiff(before: string, after: string): string {
  const sectioned = (text: string): string[] => {
    let section = '';
    return text.split('\n').map((line) => {
      if (line.startsWith('== ')) section = line.slice(3);
      return `[${section}] ${line}`;
    });
  };
  const [a, b] = [sectioned(before), sectioned(after)];
  return [
    ...a.filter((l) => !b.includes(l)).map((l) => `- ${l}`),
    ...b.filter((l) => !a.includes(l)).map((l) => `+ ${l}`),
  ].join('\n');
}

/**
 * Everything wrong with running plan.mts on `fixture`; empty when it behaves. `throughScript`: as a process (the
 * script's exit code, streams and stack traces); else `main('plan')` in this process, the same command without a
 * node + tsx start-up per fixture.
 */
async function check(fixture: string, throughScript: boolean): Promise<string[]> {
  const problems: string[] = [];
  const expected = golden[fixture];
  if (expected === undefined) return [`${fixture}: no entry in expected.json`];
  const repo = await makeRepo(fixture);
  try {
    const before = await snapshot(repo);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.FORCE_COLOR;
    const r = throughScript
      ? await run(process.execPath, ['--import', 'tsx', script, '7', '--repo', repo], { cwd: root, env })
      : await runInProcess('plan', ['7', '--repo', repo], { cwd: root, env: { NO_COLOR: '1' } });
    const where = `${fixture}: exit ${String(r.code)}, stderr:\n${r.stderr}`;
    if (r.code !== 2) problems.push(`${where}\n  → expected exit code 2`);
    if (!r.stderr.includes(expected)) problems.push(`${where}\n  → expected stderr to contain:\n${expected}`);
    if (
      r.stderr.split('\n').some((line) => line.startsWith('    at ')) ||
      r.stdout.split('\n').some((line) => line.startsWith('    at '))
    ) {
      problems.push(`${where}\n  → a stack trace was printed`);
    }
    const after = await snapshot(repo);
    if (after !== before) problems.push(`${fixture}: the repository changed:\n${lineDiff(before, after)}`);
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
  return problems;
}

/** `check` every fixture, PARALLEL at a time; the first through the script, the others in this process. */
async function checkAll(names: readonly string[]): Promise<string[]> {
  const results: string[][] = new Array(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const i = next++;
      results[i] = await check(names[i]!, i === 0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, names.length) }, worker));
  return results.flat();
}

test('scripts/plan.mts exists', () => {
  assert.ok(existsSync(script), `${script} is missing`);
  assert.ok(fixtures.length >= 30, `only ${fixtures.length} broken fixtures`);
});

const size = Math.ceil(fixtures.length / BATCHES);
for (let b = 0; b < BATCHES; b++) {
  const batch = fixtures.slice(b * size, (b + 1) * size);
  if (batch.length === 0) continue;
  test(`plan.mts 7 on broken plans ${batch[0]} … ${batch[batch.length - 1]}: exit 2, golden stderr, repo untouched`, async () => {
    if (!existsSync(script)) assert.unreachable(`${script} is missing`);
    const problems = await checkAll(batch);
    assert.ok(problems.length === 0, `\n${problems.join('\n\n')}`);
  });
}

test.run();
