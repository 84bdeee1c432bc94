/**
 * Input limits with positions: titles (length, control characters), the worktree root (a folder of its own), backlog
 * files that are symlinks. In process against a real repository, then through `scripts/plan.mts` and
 * `scripts/run.mts`: exit 2, the golden diagnostics, and the repository byte for byte as it was.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DiagnosticsError } from '../tasks/lib/diagnostics.ts';
import { parsePlanIn } from '../tasks/lib/plan/load-plan.ts';
import { fitTitle, MAX_TITLE_LENGTH, titleProblem } from '../tasks/lib/plan/title.ts';
import { git, makeRepo, planOnlyRepo, runCli, snapshotRepo, type CliResult, type TestRepo } from './support/fixture.ts';
import { runInProcess } from './support/cli.ts';

const PLAN_PATH = 'plan/milestone-7-dispatch.yaml';
const brokenDir = fileURLToPath(new URL('./fixtures/broken-plans/', import.meta.url));
const golden = JSON.parse(readFileSync(`${brokenDir}expected.json`, 'utf8')) as Record<string, string>;

/** The fixtures of these limits in the broken-plan corpus. */
const LIMIT_FIXTURES = readdirSync(brokenDir)
  .filter((n) => /^(title-|milestone-title-(too-long|nul)|worktree-root-).*\.yaml$/.test(n))
  .sort();

const PLAN = (defaults = '', title = '"Search"', item = '"Tokenizer"'): string =>
  `milestone: {number: 7, title: ${title}}\nwaves:\n  - wave: 1\n    items:\n      - {issue: 42, title: ${item}}\n${defaults}`;

/** The message parsePlanIn gives for `source` in `repo`, or '' when the plan is valid. */
async function problemsOf(repo: string, source: string): Promise<string> {
  try {
    await parsePlanIn(repo, source, PLAN_PATH);
    return '';
  } catch (error) {
    assert.instance(error, DiagnosticsError, String(error));
    return (error as Error).message;
  }
}

test('titleProblem: 200 characters (code points) is the most, one line, no control characters', () => {
  assert.is(MAX_TITLE_LENGTH, 200);
  for (const ok of ['x'.repeat(200), '🚀'.repeat(200), 'Ünïcödé 日本語 — “quoted” \u202eRTL', ' spaces  inside '])
    assert.is(titleProblem(ok), undefined, ok);
  assert.is(titleProblem('x'.repeat(201)), 'is 201 characters long; a title may have at most 200');
  assert.is(titleProblem(`${'🚀'.repeat(200)}x`), 'is 201 characters long; a title may have at most 200');
  assert.is(titleProblem(''), 'must not be empty');
  const control = (code: string, at: number): string =>
    `has a control character (${code} at character ${at}); a title is one line of text without control characters`;
  assert.is(titleProblem('a\u0000b'), control('U+0000', 2));
  assert.is(titleProblem('🚀\tx'), control('U+0009', 2));
  for (const [text, code] of [
    ['\n', 'U+000A'],
    ['\r', 'U+000D'],
    ['\u001b[31m', 'U+001B'],
    ['\u007f', 'U+007F'],
    ['\u0085', 'U+0085'],
    ['\u2028', 'U+2028'],
    ['\u2029', 'U+2029'],
  ]) {
    assert.is(titleProblem(`x${text}`), control(code!, 2), JSON.stringify(text));
  }
  // The control character is named before the length.
  assert.is(titleProblem(`${'x'.repeat(300)}\u0000`), control('U+0000', 301));
});

test('fitTitle: a valid title is kept; control characters become spaces; 200 characters at most, ending in …', () => {
  for (const ok of ['x'.repeat(200), '🚀'.repeat(200), '  spaced  ']) assert.is(fitTitle(ok), ok);
  assert.is(fitTitle('one\ntwo\u0000three'), 'one two three');
  assert.is(fitTitle('x'.repeat(300)), `${'x'.repeat(199)}…`);
  assert.is(fitTitle(`${'🚀'.repeat(300)}`), `${'🚀'.repeat(199)}…`);
  assert.is(fitTitle(`${'word '.repeat(60)}`), `${'word '.repeat(40).trimEnd()}…`);
  assert.is(fitTitle('\n\t'), 'untitled');
  for (const t of ['x'.repeat(10_000), '\u0000'.repeat(5), `a${'\n'.repeat(500)}b`])
    assert.is(titleProblem(fitTitle(t)), undefined);
});

test('plan titles: 200 characters parse, 201 do not; milestone title too; each at its value', async () => {
  const repo = await makeRepo({ plan: PLAN(), items: [] });
  try {
    assert.is(
      await problemsOf(repo.dir, PLAN('', JSON.stringify('m'.repeat(200)), JSON.stringify('🚀'.repeat(200)))),
      '',
    );
    assert.is(
      await problemsOf(repo.dir, PLAN('', JSON.stringify('m'.repeat(201)), JSON.stringify(`tab\there`))),
      [
        'plan/milestone-7-dispatch.yaml:1:31 error: milestone.title is 201 characters long; a title may have at most 200',
        'plan/milestone-7-dispatch.yaml:5:28 error: waves[0].items[0].title has a control character (U+0009 at character 4); a title is one line of text without control characters',
      ].join('\n'),
    );
    // A NUL anywhere else in the plan is refused too, at its value.
    assert.is(
      await problemsOf(repo.dir, PLAN('quality-gates: {post-merge: ["npm test\\0"]}\n')),
      'plan/milestone-7-dispatch.yaml:6:30 error: quality-gates.post-merge[0] has a NUL character (at character 9); no command, file name or agent can take one',
    );
  } finally {
    repo.cleanup();
  }
});

test('worktree root: fresh folders and folders outside are fine; the repository, .git, tracked paths and symlinks into them are not', async () => {
  const repo = await makeRepo({
    plan: PLAN(),
    items: [{ issue: 42, title: 'Tokenizer' }],
    files: { 'src/index.ts': 'export {};\n', '.gitignore': 'build/\n', 'build/out.js': '' },
  });
  const outside = path.join(repo.root, 'fast-disk');
  mkdirSync(outside);
  mkdirSync(path.join(repo.dir, 'worktrees', 'milestone-6'), { recursive: true });
  writeFileSync(path.join(repo.dir, 'worktrees', 'milestone-6', 'left.txt'), 'an earlier run\n');
  symlinkSync('.git', path.join(repo.dir, 'to-git'));
  symlinkSync('src', path.join(repo.dir, 'to-src'));
  symlinkSync(outside, path.join(repo.dir, 'to-outside'));
  const at = (key = 'worktree-root'): string => `plan/milestone-7-dispatch.yaml:7:${key.length + 5}`;
  const hint = 'the worktrees need a new folder of their own, e.g. worktrees or a folder outside the repository';
  try {
    const fine = [
      'worktrees',
      'worktrees/',
      '.work/trees',
      'src/new',
      'build',
      '../repo.worktrees',
      outside,
      path.join(outside, 'x'),
      'to-outside',
      'to-outside/sub',
    ];
    for (const value of fine)
      assert.is(await problemsOf(repo.dir, PLAN(`defaults:\n  worktree-root: ${JSON.stringify(value)}\n`)), '', value);
    const bad: Array<[string, string]> = [
      ['.', 'is the repository itself'],
      ['src/..', 'is the repository itself'],
      [repo.dir, 'is the repository itself'],
      ['..', 'holds the repository itself'],
      ['/', 'holds the repository itself'],
      ['.git', "is git's own folder (.git)"],
      ['.Git/worktrees', "is inside git's own folder (.git)"],
      [path.join(repo.dir, '.git', 'x'), "is inside git's own folder (.git)"],
      ['to-git', "is git's own folder (.git)"],
      ['to-git/wt', "is inside git's own folder (.git)"],
      ['src', 'holds tracked files (src/index.ts), and excluding it from git would hide every new file there'],
      ['to-src', 'holds tracked files (src/index.ts), and excluding it from git would hide every new file there'],
      [
        path.join(repo.dir, 'plan'),
        'holds tracked files (plan/backlog/42.md, plan/milestone-7-dispatch.yaml), and excluding it from git would hide every new file there',
      ],
      ['README.md', 'is a tracked file'],
      ['README.md/wt', 'is inside README.md, which is a file'],
      ['tab\there', 'has a control character'],
      ['nul\u0000here', 'has a control character'],
    ];
    for (const [value, problem] of bad) {
      assert.is(
        await problemsOf(repo.dir, PLAN(`defaults:\n  worktree-root: ${JSON.stringify(value)}\n`)),
        `${at()} error: defaults.worktree-root ${JSON.stringify(value)} ${problem}; ${hint}`,
        value,
      );
    }
    assert.is(
      await problemsOf(repo.dir, PLAN('defaults:\n  worktree_root: plan/backlog\n')),
      `${at('worktree_root')} error: defaults.worktree_root "plan/backlog" holds tracked files (plan/backlog/42.md), and excluding it from git would hide every new file there; ${hint}`,
    );
    // The default is checked too, when the repository tracks files in it.
    writeFileSync(path.join(repo.dir, 'worktrees', 'keep.txt'), '');
    await git(repo.dir, 'add', '-f', 'worktrees/keep.txt');
    const defaultProblem =
      'the default worktree root "worktrees" holds tracked files (worktrees/keep.txt), and excluding it from git would hide every new file there; set defaults.worktree-root to a new folder, e.g. a folder outside the repository';
    assert.is(await problemsOf(repo.dir, PLAN()), `plan/milestone-7-dispatch.yaml:1:1 error: ${defaultProblem}`);
    assert.is(
      await problemsOf(repo.dir, PLAN('defaults: {model: opus}\n')),
      `plan/milestone-7-dispatch.yaml:6:11 error: ${defaultProblem}`,
    );
    assert.is(await problemsOf(repo.dir, PLAN('defaults: {worktree-root: ../elsewhere}\n')), '');
  } finally {
    repo.cleanup();
  }
});

/** Every file of `dir` with a hash of its bytes (symlinks: their target), `.git/objects` left out. */
function fileHashes(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (rel === path.join('.git', 'objects')) continue;
    if (entry.isDirectory()) out.push(`${rel}/`, ...fileHashes(dir, rel));
    else if (entry.isSymbolicLink()) out.push(`${rel} -> symlink`);
    else
      out.push(
        `${rel} ${createHash('sha256')
          .update(readFileSync(path.join(dir, rel)))
          .digest('hex')}`,
      );
  }
  return out.sort();
}

/**
 * What no command that refuses its input may change: git's view, and every byte of every file (the object store aside).
 */
async function fullSnapshot(dir: string): Promise<string> {
  return [await snapshotRepo(dir), await git(dir, 'status', '--porcelain', '--ignored'), ...fileHashes(dir)].join('\n');
}

function assertRefused(r: CliResult, expected: string, what: string): void {
  assert.is(r.code, 2, `${what}: exit ${String(r.code)}\n${r.stderr}`);
  assert.ok(r.stderr.includes(expected), `${what}: stderr lacks\n${expected}\n---\n${r.stderr}`);
  assert.not.match(`${r.stdout}\n${r.stderr}`, /^\s+at /m, `${what}: a stack trace was printed`);
}

/** A repository whose one commit holds a README and `fixture` as the milestone 7 plan. */
function fixtureRepo(fixture: string): Promise<string> {
  return planOnlyRepo(readFileSync(`${brokenDir}${fixture}`), 'wm-limits-');
}

test('the corpus has a fixture for each limit', () => {
  for (const name of [
    'title-200kb.yaml',
    'title-nul.yaml',
    'worktree-root-dot.yaml',
    'worktree-root-git.yaml',
    'worktree-root-inside-git.yaml',
    'worktree-root-plan.yaml',
    'worktree-root-tracked-file.yaml',
  ]) {
    assert.ok(LIMIT_FIXTURES.includes(name), name);
  }
  assert.ok(readFileSync(`${brokenDir}title-nul.yaml`).includes(0), 'title-nul.yaml holds a NUL byte');
  assert.ok(readFileSync(`${brokenDir}title-200kb.yaml`).length > 200 * 1024);
});

test('plan.mts and run.mts refuse every limit fixture: exit 2, the golden diagnostic, the repository byte for byte as it was', async () => {
  const problems: string[] = [];
  // The first fixture through the scripts (their processes' exit and streams), the others through main() in this
  // process: the same commands without two node + tsx start-ups per fixture.
  const first = LIMIT_FIXTURES[0];
  const check = async (fixture: string): Promise<void> => {
    const dir = await fixtureRepo(fixture);
    try {
      const before = await fullSnapshot(dir);
      for (const script of ['plan', 'run'] as const) {
        const r =
          fixture === first
            ? await runCli(script, ['7', '--repo', dir])
            : await runInProcess(script, ['7', '--repo', dir]);
        try {
          assertRefused(r, golden[fixture] ?? '(no golden)', `${script}.mts on ${fixture}`);
        } catch (error) {
          problems.push((error as Error).message);
        }
        if ((await fullSnapshot(dir)) !== before) problems.push(`${script}.mts on ${fixture} changed the repository`);
      }
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  };
  // Two at a time.
  const queue = [...LIMIT_FIXTURES];
  await Promise.all(
    [0, 1].map(async () => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) await check(f);
    }),
  );
  assert.ok(problems.length === 0, `\n${problems.join('\n\n')}`);
});

const SYMLINK_PLAN = `milestone: {number: 7, title: "Search"}\nwaves:\n  - wave: 1\n    items:\n      - {issue: 42, title: "Tokenizer"}\n      - {issue: 43, title: "CLI flags"}\ndefaults: {agent: command, command: "exit 1", retries: 0}\n`;

/**
 * A repository whose backlog item 42 is committed as a symlink to `outside/secret.md`, a valid item file next to the
 * repository.
 */
async function symlinkRepo(how: 'file' | 'folder'): Promise<{ repo: TestRepo; secret: string; secretText: string }> {
  const repo = await makeRepo({ plan: SYMLINK_PLAN, items: [{ issue: 43, title: 'CLI flags' }] });
  const outside = path.join(repo.root, 'outside');
  mkdirSync(outside);
  const secretText =
    '---\nissue: 42\ntitle: Tokenizer\nstatus: open\nmilestone: 7\n---\n## Description\nSECRET from outside the repository\n';
  writeFileSync(path.join(outside, 'secret.md'), secretText);
  if (how === 'file') symlinkSync('../../../outside/secret.md', path.join(repo.dir, 'plan', 'backlog', '42.md'));
  else {
    writeFileSync(path.join(outside, '42.md'), secretText);
    writeFileSync(path.join(outside, '43.md'), readFileSync(path.join(repo.dir, 'plan', 'backlog', '43.md')));
    await git(repo.dir, 'rm', '-q', '-r', 'plan/backlog');
    symlinkSync('../../outside', path.join(repo.dir, 'plan', 'backlog'));
  }
  await git(repo.dir, 'add', '-A');
  await git(repo.dir, 'commit', '-q', '-m', 'backlog through a symlink');
  return { repo, secret: path.join(outside, how === 'file' ? 'secret.md' : '42.md'), secretText };
}

for (const [how, expected] of [
  [
    'file',
    'plan/backlog/42.md:1:1 error: plan/backlog/42.md is a symlink to ../../../outside/secret.md, outside the repository; a backlog item must be a regular file in the repository',
  ],
  [
    'folder',
    'plan/backlog/42.md:1:1 error: plan/backlog/42.md is reached through plan/backlog, a symlink to ../../outside, outside the repository; a backlog item must be a regular file in the repository',
  ],
] as const) {
  test(`a backlog ${how} committed as a symlink leaving the repository: run.mts and step.mts validate exit 2 naming it; nothing changes`, async () => {
    const { repo, secret, secretText } = await symlinkRepo(how);
    try {
      const before = await snapshotRepo(repo.dir);
      const files = fileHashes(repo.dir).filter((f) => !f.startsWith('.git/'));
      const exclude = readFileSync(path.join(repo.dir, '.git', 'info', 'exclude'), 'utf8');
      for (const [script, args] of [
        ['run', ['7']],
        ['step', ['validate', '7']],
        ['run', ['7']],
      ] as const) {
        assertRefused(await runCli(script, [...args, '--repo', repo.dir]), expected, `${script}.mts ${args.join(' ')}`);
      }
      assert.is(await snapshotRepo(repo.dir), before);
      assert.equal(
        fileHashes(repo.dir).filter((f) => !f.startsWith('.git/')),
        files,
      );
      assert.is(readFileSync(path.join(repo.dir, '.git', 'info', 'exclude'), 'utf8'), exclude);
      assert.is(readFileSync(secret, 'utf8'), secretText);
      assert.not.ok(
        await git(repo.dir, 'for-each-ref', '--format=%(refname)').then((refs) => refs.includes('milestone/')),
        'an integration branch was made',
      );
    } finally {
      repo.cleanup();
    }
  });
}

test('fetch refuses a backlog file that became a symlink in the integration worktree after validate', async () => {
  const repo = await makeRepo({
    plan: SYMLINK_PLAN,
    items: [
      { issue: 42, title: 'Tokenizer' },
      { issue: 43, title: 'CLI flags' },
    ],
  });
  try {
    for (const step of ['validate', 'prepare', 'branch']) {
      const r = await runCli('step', [step, '7', '--repo', repo.dir]);
      assert.is(r.code, 0, `${step}: ${r.stderr}`);
    }
    const worktree = path.join(repo.dir, 'worktrees', 'milestone-7');
    const secret = path.join(repo.root, 'secret.md');
    writeFileSync(secret, '---\nissue: 42\ntitle: Secret\nstatus: open\nmilestone: 7\n---\nSECRET\n');
    const item = path.join(worktree, 'plan', 'backlog', '42.md');
    rmSync(item);
    symlinkSync(secret, item);
    const r = await runCli('step', ['fetch', '7', '--repo', repo.dir]);
    assertRefused(
      r,
      `plan/backlog/42.md:1:1 error: plan/backlog/42.md is a symlink to ${secret}, outside the repository; a backlog item must be a regular file in the repository`,
      'step.mts fetch',
    );
    assert.not.ok(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8').includes('SECRET'));
  } finally {
    repo.cleanup();
  }
});

test.run();
