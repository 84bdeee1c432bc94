/**
 * Slugs and branch names (docs/plan-format.md): every branch made from any title is one git accepts, checked against
 * git itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isValidBranchName, isValidMilestoneId, milestoneIdProblem, slugify } from '../tasks/lib/slug.ts';

/**
 * Which of `names` `git check-ref-format --branch` accepts, run outside any repository (inside one, `@{-1}` and `@`
 * expand).
 */
function gitAccepts(names: readonly string[]): boolean[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wm-slug-'));
  const env = {
    ...process.env,
    GIT_CEILING_DIRECTORIES: path.dirname(dir),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  try {
    return names.map((name) => {
      const r = spawnSync('git', ['check-ref-format', '--branch', name], { cwd: dir, env, encoding: 'utf8' });
      if (r.error) throw r.error;
      return r.status === 0;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('slugify: the documented example and the rules of docs/plan-format.md', () => {
  assert.is(slugify('v1.1 — Search improvements'), 'v1.1-search-improvements');
  assert.is(slugify('Tokenizer'), 'tokenizer');
  assert.is(slugify('CLI   flags'), 'cli-flags');
  assert.is(slugify('a - b -- c'), 'a-b-c');
  assert.is(slugify('Fix: the parser (again)!'), 'fix-the-parser-again');
  assert.is(slugify('v2.0.1'), 'v2.0.1');
  assert.is(slugify('Release...candidate'), 'release.candidate');
  assert.is(slugify('  .hidden-  '), 'hidden');
  assert.is(slugify('index.lock'), 'index');
  assert.is(slugify('a.lock.lock'), 'a');
  assert.is(slugify('🚀🔥✨'), '');
  assert.is(slugify('..'), '');
  assert.is(slugify('x'.repeat(300)).length, 60);
  assert.is(slugify('word '.repeat(30), 40), 'word-word-word-word-word-word-word-word');
});

const HOSTILE_TITLES: readonly string[] = [
  '$(touch /tmp/pwned)',
  '`touch /tmp/pwned`',
  '; rm -rf ~ #',
  `it's "quoted"`,
  'line one\nline two\r\nthree',
  'tab\there',
  '\u202Eevil\u202C right-to-left override',
  '\u200Fmark\u200E',
  '..',
  '../../etc/passwd',
  '/',
  'a/b/c',
  '--upload-pack=x',
  '-x',
  'x'.repeat(300),
  '🚀🔥',
  '',
  '   ',
  '.lock',
  'branch.lock',
  '@',
  '@{-1}',
  'HEAD',
  'HEAD~1^2:path',
  'a*b?c[d]',
  'back\\slash',
  'null\u0000byte and DEL\u007f',
  'İstanbul',
  '\u212Aelvin',
  'ends with dot.',
  '.starts with dot',
  '-'.repeat(50) + 'x',
  'a' + '.'.repeat(50) + 'b',
  'x'.repeat(59) + '.lock',
];

test('hostile titles give branch names that pass isValidBranchName and git check-ref-format --branch', () => {
  const names: string[] = [];
  for (const title of HOSTILE_TITLES) {
    for (const slug of [slugify(title), slugify(title, 40) || 'item']) {
      assert.match(
        slug,
        /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)?$/,
        `slug of ${JSON.stringify(title)}: ${JSON.stringify(slug)}`,
      );
      names.push(`work/7-42-${slug}`);
      if (slug) names.push(`milestone/7-${slug}`);
    }
  }
  assert.is(slugify('🚀🔥'), '');
  for (const name of names) assert.ok(isValidBranchName(name), `isValidBranchName rejects ${JSON.stringify(name)}`);
  const accepted = gitAccepts(names);
  const rejected = names.filter((_, i) => !accepted[i]);
  assert.equal(rejected, [], 'git rejects these');
});

/** Names with the answer `git check-ref-format --branch` gives (measured with git 2.39); the test asks git again. */
const BRANCH_NAMES: ReadonlyArray<readonly [string, boolean]> = [
  ['main', true],
  ['milestone/7-search', true],
  ['work/7-42-tokenizer', true],
  ['foo.bar', true],
  ['a./b', true],
  ['a-', true],
  ['a/@/b', true],
  ['@@', true],
  ['a{b}', true],
  ["a'b", true],
  ['a"b', true],
  ['a`b', true],
  ['a$b', true],
  ['a;b', true],
  ['#x', true],
  ['%', true],
  ['ü', true],
  ['a.lockx', true],
  ['refs/heads/x', true],
  ['\u200F', true],
  ['', false],
  ['HEAD', false],
  ['-x', false],
  ['a b', false],
  ['a\tb', false],
  ['a\nb', false],
  ['a\u007fb', false],
  ['a~b', false],
  ['a^b', false],
  ['a:b', false],
  ['a?b', false],
  ['a*b', false],
  ['a[b', false],
  ['a\\b', false],
  ['a..b', false],
  ['a@{1}', false],
  ['@{-1}', false],
  ['/a', false],
  ['a/', false],
  ['a//b', false],
  ['.a', false],
  ['a/.b', false],
  ['a.', false],
  ['a/b.', false],
  ['a.lock', false],
  ['a.lock/b', false],
  ['.', false],
  ['..', false],
];

test('isValidBranchName agrees with git check-ref-format --branch', () => {
  const names = BRANCH_NAMES.map(([name]) => name);
  const git = gitAccepts(names);
  names.forEach((name, i) => {
    assert.is(git[i], BRANCH_NAMES[i]![1], `git on ${JSON.stringify(name)} changed its mind`);
    assert.is(isValidBranchName(name), git[i], `isValidBranchName(${JSON.stringify(name)}) disagrees with git`);
  });
  // Stricter than git on purpose: `@` alone is HEAD in every revision argument.
  assert.equal(gitAccepts(['@']), [true]);
  assert.is(isValidBranchName('@'), false);
});

test('milestone ids: what may go into branch and folder names', () => {
  for (const id of ['7', '0', 'v1.1', 'M_7-beta', '7.', 'x'.repeat(64)]) assert.ok(isValidMilestoneId(id), id);
  assert.is(milestoneIdProblem('7 beta'), `may contain only letters, digits, '.', '_' and '-'`);
  for (const id of ['7/8', '../../x', '--upload-pack=x', '7\n', 'ü'])
    assert.is(milestoneIdProblem(id), `may contain only letters, digits, '.', '_' and '-'`, id);
  assert.is(milestoneIdProblem('-7'), 'must start with a letter or digit');
  assert.is(milestoneIdProblem('.7'), 'must start with a letter or digit');
  assert.is(milestoneIdProblem('x'.repeat(65)), 'must be at most 64 characters');
  assert.is(milestoneIdProblem('a..b'), `must not contain ".." nor end with ".lock"`);
  assert.is(milestoneIdProblem('a.lock'), `must not contain ".." nor end with ".lock"`);
  assert.is(milestoneIdProblem(''), 'must not be empty');
  // Any valid id with any slug makes branches git accepts, except `7.` with an empty slug: the plan check reports that
  // one.
  const names = ['7', 'v1.1', 'M_7-beta', '7.'].flatMap((id) => [
    `milestone/${id}-search`,
    `work/${id}-42-search`,
    `milestone/${id}`,
  ]);
  assert.equal(
    gitAccepts(names),
    names.map((n) => n !== 'milestone/7.'),
  );
  assert.equal(
    names.map(isValidBranchName),
    names.map((n) => n !== 'milestone/7.'),
  );
});

test.run();
