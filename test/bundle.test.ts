/**
 * The bundle (dist/, bin/bundle.mjs): the bin runs it while it was built from the sources as they are, and runs the
 * sources through tsx as soon as one of them changed. Observed on a copy of the package whose bundle or sources are
 * edited so that the two tell themselves apart in `--help`.
 */
import { cpSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildBundle, freshBundle } from '../bin/bundle.mjs';
import { runProcess } from './support/cli.ts';
import { ROOT, tempDir } from './support/fixture.ts';

const HELP_START = 'Usage: work-milestone <command>';

/** A copy of the package (bin, dist, schema, tasks, package.json; node_modules linked) with a fresh bundle. */
async function copyPackage(): Promise<string> {
  if (!freshBundle()) await buildBundle();
  const dir = path.join(tempDir('wm-bundle-'), 'pkg');
  for (const entry of ['bin', 'dist', 'schema', 'tasks', 'package.json'])
    cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true, preserveTimestamps: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Mark the bundle's help text, so that output from the bundle shows it. */
function markBundle(pkg: string): void {
  const chunks = readdirSync(path.join(pkg, 'dist')).filter((f) => f.endsWith('.js'));
  const holding = chunks.filter((f) => readFileSync(path.join(pkg, 'dist', f), 'utf8').includes(HELP_START));
  assert.is(holding.length, 1, `the help text is in ${holding.length} chunks`);
  const file = path.join(pkg, 'dist', holding[0] as string);
  writeFileSync(file, readFileSync(file, 'utf8').replace(HELP_START, 'Usage: BUNDLED'));
}

const help = async (pkg: string) => {
  const r = await runProcess(process.execPath, [path.join(pkg, 'bin', 'work-milestone.mjs'), '--help']);
  assert.is(r.code, 0, r.stderr);
  return r.stdout.split('\n')[0] ?? '';
};

test('a fresh bundle is what the bin runs; a source touched but unchanged keeps it fresh', async () => {
  const pkg = await copyPackage();
  markBundle(pkg);
  assert.match(await help(pkg), /^Usage: BUNDLED/);
  const later = new Date(Date.now() + 60_000);
  utimesSync(path.join(pkg, 'tasks', 'cli', 'help.ts'), later, later);
  assert.is(freshBundle(pkg) !== null, true, 'a new mtime with the same content made the bundle stale');
  assert.match(await help(pkg), /^Usage: BUNDLED/);
});

test('a changed source makes the bin run the sources, and a build makes the bundle fresh again', async () => {
  const pkg = await copyPackage();
  markBundle(pkg);
  const source = path.join(pkg, 'tasks', 'cli', 'help.ts');
  writeFileSync(source, readFileSync(source, 'utf8').replace(HELP_START, 'Usage: FROM-SOURCES'));
  assert.is(freshBundle(pkg), null);
  assert.match(await help(pkg), /^Usage: FROM-SOURCES/);

  const built = await runProcess(process.execPath, [path.join(pkg, 'bin', 'bundle.mjs')]);
  assert.is(built.code, 0, built.stderr);
  assert.match(built.stdout, /^dist\/ built from \d+ source files/);
  assert.ok(freshBundle(pkg));
  assert.match(await help(pkg), /^Usage: FROM-SOURCES/);
  // Nothing left of the build beside dist/.
  assert.equal(readdirSync(pkg).sort(), ['bin', 'dist', 'node_modules', 'package.json', 'schema', 'tasks']);
});

test('a source file removed makes the bundle stale', async () => {
  const pkg = await copyPackage();
  const inputs = JSON.parse(readFileSync(path.join(pkg, 'dist', 'inputs.json'), 'utf8')) as {
    files: Record<string, unknown>;
  };
  assert.ok(Object.keys(inputs.files).includes('tasks/cli/main.ts'));
  writeFileSync(path.join(pkg, 'dist', 'inputs.json'), JSON.stringify({ files: { ...inputs.files, 'gone.ts': {} } }));
  assert.is(freshBundle(pkg), null);
});

test.run();
