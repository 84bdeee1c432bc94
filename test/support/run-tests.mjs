#!/usr/bin/env node
// Runs every test/*.test.ts file in its own process (2 at a time, the machine has 2 cores), plus the
// type check, and ends with the line CI reads: "N passed, N failed". uvu prints Total/Passed per file.
// Longest first (seconds from test/support/test-times.json; a file not listed there yet counts as longest), so the
// two workers end together. TEST_TIMES_WRITE=1 writes this run's times back into that file.
// CPU: each file runs under /usr/bin/time (when there), which reports the user+sys seconds of its process and of every
// process it waited for (the CLI runs, git, agents); an orphan whose parent was killed (a SIGKILLed runner's agents) is
// reaped by init and not counted. On a shared machine that is the honest figure; TEST_TABLE=1 prints a table of both.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildBundle, freshBundle } from '../../bin/bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const jobs = Number(process.env.TEST_JOBS ?? 2);
const files = readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts') && (!filter || filter.test(f)))
  .sort();
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
delete env.NODE_OPTIONS;

const TIME = '/usr/bin/time';
const timed = existsSync(TIME);
// Every test file gets its own TMPDIR under one folder of the run, removed when the file ends (and the folder when
// the run ends): whatever a test leaves in the temp folder (a repository a killed run kept, a fake GitHub runner's
// workspace) goes with it. tsx's compile cache (os.tmpdir()/tsx-<uid>) stays shared: each TMPDIR links to it.
// Traversable (0755): a test runs a helper as another user (nobody) from a folder of its own in there.
const runTmp = mkdtempSync(path.join(os.tmpdir(), 'wm-tests-'));
chmodSync(runTmp, 0o755);
const tsxCache = path.join(os.tmpdir(), `tsx-${os.userInfo().uid}`);
mkdirSync(tsxCache, { recursive: true });
const cpuDir = mkdtempSync(path.join(runTmp, 'cpu-'));
/** A fresh TMPDIR for one test file, sharing tsx's cache. */
function fileTmp() {
  const dir = mkdtempSync(path.join(runTmp, 'f-'));
  chmodSync(dir, 0o755);
  symlinkSync(tsxCache, path.join(dir, path.basename(tsxCache)));
  return dir;
}
/** Remove a folder, whatever is still writing into it (an orphaned agent of a killed run): best effort. */
function removeQuietly(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // The run's last sweep tries again.
  }
}
let cpuFiles = 0;
// The tests running now: their groups are not the terminal's, so Ctrl-C reaches them through this.
const running = new Set();
const killGroup = (child) => {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
};
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    for (const child of running) killGroup(child);
    removeQuietly(runTmp);
    process.exit(130);
  });

function runOne(label, cmd, args, timeoutMs, tmp = null) {
  return new Promise((resolve) => {
    const started = Date.now();
    const cpuFile = path.join(cpuDir, String(cpuFiles++));
    // Under time: its exit code is the command's (128+N when killed by signal N, which counts as a failure too).
    const [file, argv] = timed ? [TIME, ['-q', '-f', '%U %S', '-o', cpuFile, cmd, ...args]] : [cmd, args];
    // Its own process group, so the timeout kills the test and not only time.
    const child = spawn(file, argv, {
      cwd: root,
      env: tmp ? { ...env, TMPDIR: tmp } : env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (tmp) removeQuietly(tmp);
      resolve({ label, code, signal, out, seconds: (Date.now() - started) / 1000, cpu: cpuOf(cpuFile) });
    });
  });
}

/** user+sys seconds from time's output file (its last line), or null. */
function cpuOf(file) {
  if (!existsSync(file)) return null;
  const last = readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
  const m = /^([\d.]+) ([\d.]+)$/.exec(last);
  return m ? Number(m[1]) + Number(m[2]) : null;
}

function countsOf(result) {
  const total = /Total:\s+(\d+)/.exec(result.out);
  const passed = /Passed:\s+(\d+)/.exec(result.out);
  if (!total || !passed) return { passed: 0, failed: 1 };
  const t = Number(total[1]);
  const p = Number(passed[1]);
  // A file whose process failed after its summary still counts as one failure.
  return { passed: p, failed: t - p + (result.code !== 0 && t === p ? 1 : 0) };
}

const timesFile = path.join(root, 'test', 'support', 'test-times.json');
const times = existsSync(timesFile) ? JSON.parse(readFileSync(timesFile, 'utf8')) : {};
const expected = (label) => times[label] ?? Number.POSITIVE_INFINITY;
const jobsOf = files.map((f) => ({
  label: f,
  start: () => runOne(f, process.execPath, ['--import', 'tsx', path.join('test', f)], 15 * 60_000, fileTmp()),
}));
// Whole-tree checks, each one pass or one failure: types, lint (typescript-eslint), formatting (prettier). Each keeps
// a cache under node_modules/.cache (gone with `npm ci`): a second run rechecks only what changed, 18 s → 4 s here.
// Safe: tsc hashes every file it reads, eslint's rules here read one file each (no type-aware rules) and its cache
// keys the config, prettier's cache is keyed by content and options.
const cacheOf = (name) => path.join(root, 'node_modules', '.cache', 'work-milestone-checks', name);
const CHECKS = [
  ['typecheck', 'typescript/bin/tsc', ['--noEmit', '-p', '.', '--incremental', '--tsBuildInfoFile', cacheOf('tsc')]],
  ['lint', 'eslint/bin/eslint.js', ['.', '--cache', '--cache-location', cacheOf('eslint')]],
  [
    'format',
    'prettier/bin/prettier.cjs',
    ['--check', '.', '--cache', '--cache-strategy', 'content', '--cache-location', cacheOf('prettier')],
  ],
].map(([label, bin, args]) => [label, [path.join(root, 'node_modules', bin), ...args]]);
const checkLabels = new Set(CHECKS.map(([label]) => label));
if (!filter)
  for (const [label, args] of CHECKS)
    jobsOf.push({ label, start: () => runOne(label, process.execPath, args, 5 * 60_000) });
// Stable: equal times keep their name order.
const queue = jobsOf.sort((a, b) => expected(b.label) - expected(a.label) || 0).map((j) => j.start);
const measured = {};
const cpu = {};
let passed = 0;
let failed = 0;
async function worker() {
  for (let next = queue.shift(); next; next = queue.shift()) {
    const result = await next();
    const counts = checkLabels.has(result.label)
      ? result.code === 0
        ? { passed: 1, failed: 0 }
        : { passed: 0, failed: 1 }
      : countsOf(result);
    passed += counts.passed;
    failed += counts.failed;
    measured[result.label] = Math.round(result.seconds * 10) / 10;
    if (result.cpu !== null) cpu[result.label] = result.cpu;
    const mark = counts.failed === 0 ? 'ok  ' : 'FAIL';
    const used = result.cpu === null ? '' : `, cpu ${result.cpu.toFixed(1)}s`;
    process.stdout.write(
      `${mark} ${result.label}: ${counts.passed} passed, ${counts.failed} failed (${result.seconds.toFixed(1)}s${used})\n`,
    );
    if (counts.failed > 0 || process.env.TEST_VERBOSE)
      process.stdout.write(
        `${result.out
          .trim()
          .split('\n')
          .map((l) => `     ${l}`)
          .join('\n')}\n`,
      );
  }
}
const suiteStarted = Date.now();
// The tests start the CLI from the bundle while it is fresh (test/support/cli.ts): build it first when it is not.
if (!freshBundle()) {
  try {
    process.stdout.write(`bundle: dist/ built from ${await buildBundle()} source files\n`);
  } catch (error) {
    failed += 1;
    process.stdout.write(`FAIL bundle: ${error.message}\n`);
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
removeQuietly(runTmp);
if (process.env.TEST_TABLE) {
  const rows = Object.keys(measured).sort((a, b) => (cpu[b] ?? 0) - (cpu[a] ?? 0) || measured[b] - measured[a]);
  const width = Math.max(...rows.map((r) => r.length), 4);
  const cell = (n) => (n === undefined ? '-' : n.toFixed(1)).padStart(8);
  process.stdout.write(`\n${'file'.padEnd(width)}   wall s    cpu s\n`);
  for (const r of rows) process.stdout.write(`${r.padEnd(width)} ${cell(measured[r])} ${cell(cpu[r])}\n`);
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${'total'.padEnd(width)} ${cell(sum(measured))} ${cell(sum(cpu))}   (suite wall ${((Date.now() - suiteStarted) / 1000).toFixed(1)}s, ${jobs} jobs)\n`,
  );
}
if (process.env.TEST_TIMES_WRITE) {
  // A whole run replaces the file (files since removed drop out); a filtered run updates its files' times.
  const merged = filter ? { ...times, ...measured } : measured;
  const sorted = Object.fromEntries(
    Object.keys(merged)
      .sort()
      .map((k) => [k, merged[k]]),
  );
  writeFileSync(timesFile, `${JSON.stringify(sorted, null, 2)}\n`);
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
