/** tasks/lib/atomic-file.ts: atomic replace (old content or new, never a part) and exclusive create, on real files. */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFileExclusive, createFileExclusiveSync, writeFileAtomic } from '../tasks/lib/atomic-file.ts';
import { tempDir } from './support/fixture.ts';

const HELPER = fileURLToPath(new URL('../tasks/lib/atomic-file.ts', import.meta.url));

/**
 * Run `writeFileAtomic(file, 4 MiB)` in a child whose file-size limit is 1 MiB, so the write really fails midway (node
 * ignores SIGXFSZ: the write fails with EFBIG) and the helper has to clean up after itself.
 */
function writeOverLimit(file: string): string {
  const script = path.join(path.dirname(file), 'writer.mts');
  writeFileSync(
    script,
    [
      `import { writeFileAtomic } from ${JSON.stringify(HELPER)};`,
      `await writeFileAtomic(${JSON.stringify(file)}, 'x'.repeat(4 * 1024 * 1024)).then(`,
      `  () => console.log('written'),`,
      `  (e) => console.log(e.code),`,
      `);`,
    ].join('\n'),
  );
  const r = spawnSync('bash', ['-c', 'ulimit -f 1024 && exec node --import tsx "$0"', script], {
    cwd: path.dirname(HELPER),
    encoding: 'utf8',
  });
  return `${r.stdout}${r.stderr}`.trim();
}

const namesIn = (dir: string): string[] => readdirSync(dir).filter((n) => n !== 'writer.mts');

test('writeFileAtomic replaces the content, keeps the mode, leaves no temp file', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'state.json');
  await writeFileAtomic(file, 'one\n');
  assert.is(readFileSync(file, 'utf8'), 'one\n');
  chmodSync(file, 0o600);
  await writeFileAtomic(file, 'two\n');
  assert.is(readFileSync(file, 'utf8'), 'two\n');
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.equal(readdirSync(dir), ['state.json']);
});

test('a write that fails midway (EFBIG) leaves the old file intact and no temp file', () => {
  const dir = tempDir();
  const file = path.join(dir, 'state.json');
  writeFileSync(file, 'old\n');
  assert.is(writeOverLimit(file), 'EFBIG');
  assert.is(readFileSync(file, 'utf8'), 'old\n');
  assert.equal(namesIn(dir), ['state.json']);
});

test('writeFileAtomic into a missing folder fails and creates nothing', async () => {
  const dir = tempDir();
  const err = await writeFileAtomic(path.join(dir, 'no', 'such.json'), 'x').then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  assert.is(err?.code, 'ENOENT');
  assert.equal(readdirSync(dir), []);
});

test('createFileExclusive creates an absent file and refuses an existing one, leaving it as it was', async () => {
  const dir = tempDir();
  const file = path.join(dir, '7.md');
  assert.is(await createFileExclusive(file, 'first\n'), true);
  assert.is(await createFileExclusive(file, 'second\n'), false);
  assert.is(readFileSync(file, 'utf8'), 'first\n');
  assert.equal(readdirSync(dir), ['7.md']);
});

test("createFileExclusive: of 20 concurrent creators exactly one wins, and the file is the winner's whole text", async () => {
  const dir = tempDir();
  const file = path.join(dir, 'run.lock');
  const texts = Array.from({ length: 20 }, (_, i) => `${'owner'.repeat(1000)} ${i}\n`);
  const won = await Promise.all(texts.map((t) => createFileExclusive(file, t)));
  assert.is(won.filter(Boolean).length, 1);
  assert.is(readFileSync(file, 'utf8'), texts[won.indexOf(true)]);
  assert.equal(readdirSync(dir), ['run.lock']);
});

test('createFileExclusiveSync creates an absent file and refuses an existing one', () => {
  const dir = tempDir();
  const file = path.join(dir, 'state.lock');
  assert.is(createFileExclusiveSync(file, '{"pid":1}\n'), true);
  assert.is(createFileExclusiveSync(file, '{"pid":2}\n'), false);
  assert.is(readFileSync(file, 'utf8'), '{"pid":1}\n');
  assert.equal(readdirSync(dir), ['state.lock']);
});

test.run();
