/**
 * The package as a user gets it (README, "Running a real milestone"): `npm pack`, the tarball installed as a dev
 * dependency of a fresh project, then `npx work-milestone plan` and a whole milestone whose agent is the `command`
 * agent of docs/command-agents.md's example, all through the installed bin.
 *
 * Offline: the project gets a package-lock.json made from ours (the tarball, plus every package our lock does not
 * mark dev-only, with its resolved URL and integrity), and `npm ci --offline` installs it from the npm cache that
 * `npm ci` of this repository filled (CI: `.ci/run`). Nothing is asked of the registry; a cache without those
 * tarballs fails the install with ENOTCACHED, said in the assertion message.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freshBundle } from '../bin/bundle.mjs';
import { cliEnv, git, makeRepo, ROOT, tempDir } from './support/fixture.ts';
import { runInProcess, runProcess } from './support/cli.ts';
import { planYaml } from './support/plan.ts';

interface LockEntry {
  readonly dev?: boolean;
  readonly [key: string]: unknown;
}

/** `npm args…` in `cwd`: its exit code and output. */
function npm(args: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      'npm',
      [...args],
      { cwd, env: cliEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr }),
    ),
  );
}

/** A project depending on the tarball (a dev dependency), locked to what our own lock file resolved. */
function writeProject(project: string, tarball: string): void {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const ours = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:../${path.basename(tarball)}`;
  const root = { name: 'uses-work-milestone', version: '1.0.0', private: true, type: 'module' };
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ ...root, devDependencies: { 'work-milestone': spec } }, null, 2)}\n`,
  );
  const packages: Record<string, unknown> = {
    '': { name: root.name, version: root.version, devDependencies: { 'work-milestone': spec } },
    'node_modules/work-milestone': {
      version: pkg.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`,
      dev: true,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  // Everything but our dev-only packages is what work-milestone needs; in the project it is all a dev dependency.
  for (const [key, entry] of Object.entries(ours.packages))
    if (key !== '' && !entry.dev) packages[key] = { ...entry, dev: true };
  const lock = { name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages };
  writeFileSync(path.join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

/** The example agent script of docs/command-agents.md, as the page shows it. */
function exampleAgent(): string {
  const page = readFileSync(path.join(ROOT, 'docs', 'command-agents.md'), 'utf8');
  const script = /## An example[\s\S]*?```sh\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(script, 'docs/command-agents.md has no example script');
  return script as string;
}

test('npm pack, installed offline in a fresh project: npx work-milestone plan, and a milestone with the documented command agent', async () => {
  const work = tempDir('wm-pack-');
  const items = [
    { issue: 1, title: 'First note' },
    { issue: 2, title: 'Second note' },
  ];
  try {
    const packed = await npm(['pack', '--silent', '--pack-destination', work], ROOT);
    assert.is(packed.code, 0, packed.stderr);
    const tarball = path.join(work, packed.stdout.trim().split('\n').pop() as string);
    assert.ok(existsSync(tarball), `no tarball: ${packed.stdout}`);
    const project = path.join(work, 'project');
    mkdirSync(project);
    writeProject(project, tarball);
    const installed = await npm(['ci', '--offline', '--no-audit', '--no-fund'], project);
    assert.is(installed.code, 0, `npm ci --offline exited ${installed.code}: ${installed.stderr || installed.stdout}`);
    const pkgDir = path.join(project, 'node_modules', 'work-milestone');
    // What a user gets: the bin, scripts, tasks, schemas and docs; no tests, no bench.
    for (const entry of ['bin', 'dist', 'scripts', 'tasks', 'schema', 'docs', 'README.md', 'package.json'])
      assert.ok(existsSync(path.join(pkgDir, entry)), `${entry} not packed`);
    // The tarball's files have other mtimes than ours: the bundle is still fresh (by content), so the bin runs it.
    assert.ok(freshBundle(pkgDir), 'the installed bundle is not fresh');
    for (const entry of ['test', 'bench', 'node_modules/.bin'])
      assert.not.ok(existsSync(path.join(pkgDir, entry)), `${entry} was packed`);
    assert.ok(readdirSync(path.join(project, 'node_modules', '.bin')).includes('work-milestone'));

    const agent = path.join(work, 'agent.sh');
    writeFileSync(agent, exampleAgent());
    chmodSync(agent, 0o755);
    const plan = planYaml({
      title: 'Packed',
      waves: [{ items }],
      gates: { 'post-merge': [{ name: 'notes', run: 'test -s NOTES.md' }] },
      defaults: { agent: 'command', command: `sh ${agent}`, retries: 0, timeout: '30s' },
    });
    const r = await makeRepo({ plan, items });
    try {
      const npx = (args: readonly string[]) =>
        runProcess('npx', ['--offline', 'work-milestone', ...args], { cwd: project });
      const planned = await npx(['plan', '7', '--repo', r.dir]);
      assert.is(planned.code, 0, planned.stderr);
      assert.is(planned.stdout, (await runInProcess('plan', ['7', '--repo', r.dir])).stdout);

      const run = await npx(['run', '7', '--repo', r.dir, '--yes']);
      assert.is(run.code, 0, `exit ${run.code}\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
      // Both agents appended to NOTES.md (a trivial conflict, kept both) and committed; main has both lines.
      const notes = (await git(r.dir, 'show', 'main:NOTES.md')).split('\n').sort();
      assert.equal(notes, ['- First note (attempt 1)', '- Second note (attempt 1)']);
      assert.match(await git(r.dir, 'log', '-1', '--format=%s', 'main'), /^Merge milestone 7: Packed$/);
      const status = await npx(['status', '7', '--repo', r.dir, '--json']);
      assert.is(status.code, 0, status.stderr);
      assert.is((JSON.parse(status.stdout) as { phase: string }).phase, 'complete');
    } finally {
      r.cleanup();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
