#!/usr/bin/env node
// Runs every test/*.test.ts file in its own process (2 at a time, the machine has 2 cores), plus the
// type check, and ends with the line CI reads: "N passed, N failed". uvu prints Total/Passed per file.
// Longest first (seconds from test/support/test-times.json; a file not listed there yet counts as longest), so the
// two workers end together. TEST_TIMES_WRITE=1 writes this run's times back into that file.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const jobs = Number(process.env.TEST_JOBS ?? 2);
const files = readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts') && (!filter || filter.test(f)))
  .sort();
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
delete env.NODE_OPTIONS;

function runOne(label, cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ label, code, signal, out, seconds: (Date.now() - started) / 1000 });
    });
  });
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
  start: () => runOne(f, process.execPath, ['--import', 'tsx', path.join('test', f)], 15 * 60_000),
}));
// Whole-tree checks, each one pass or one failure: types, lint (typescript-eslint), formatting (prettier).
const CHECKS = [
  ['typecheck', [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', '.']],
  ['lint', [path.join(root, 'node_modules/eslint/bin/eslint.js'), '.']],
  ['format', [path.join(root, 'node_modules/prettier/bin/prettier.cjs'), '--check', '.']],
];
const checkLabels = new Set(CHECKS.map(([label]) => label));
if (!filter)
  for (const [label, args] of CHECKS)
    jobsOf.push({ label, start: () => runOne(label, process.execPath, args, 5 * 60_000) });
// Stable: equal times keep their name order.
const queue = jobsOf.sort((a, b) => expected(b.label) - expected(a.label) || 0).map((j) => j.start);
const measured = {};
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
    const mark = counts.failed === 0 ? 'ok  ' : 'FAIL';
    process.stdout.write(
      `${mark} ${result.label}: ${counts.passed} passed, ${counts.failed} failed (${result.seconds.toFixed(1)}s)\n`,
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
await Promise.all(Array.from({ length: jobs }, worker));
if (process.env.TEST_TIMES_WRITE) {
  const merged = { ...times, ...measured };
  const sorted = Object.fromEntries(
    Object.keys(merged)
      .sort()
      .map((k) => [k, merged[k]]),
  );
  writeFileSync(timesFile, `${JSON.stringify(sorted, null, 2)}\n`);
}
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
