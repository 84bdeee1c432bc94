/** Paths git C-quotes outside `-z` output are read back as the names they stand for. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unquoteGitPath } from '../tasks/lib/git-quoted.ts';
import { emptyRepo, git } from './support/fixture.ts';

test('every name git quotes (non-ASCII, quote, backslash, tab, newline) reads back as itself; plain names unchanged', async () => {
  const dir = await emptyRepo('wm-quoted-');
  const names = ['plan/é.md', 'a"b.txt', 'back\\slash', 'tab\there', 'nl\nx', 'plain.txt', 'ü/日本.md', 'sp ace.txt'];
  for (const name of names) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), 'x\n');
  }
  await git(dir, 'add', '-A');
  const printed = (await git(dir, 'diff', '--cached', '--name-only')).split('\n').filter(Boolean);
  assert.ok(
    printed.some((p) => p.startsWith('"')),
    'git quoted some of them',
  );
  assert.equal(printed.map(unquoteGitPath).sort(), [...names].sort());
  assert.is(unquoteGitPath('"'), '"', 'a lone quote is a name');
});

test.run();
