/** explainGateFailure: the lines of a red gate's log that say why, for the messages that report it. */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explainGateFailure, explainGateLog, gateOutputTail } from '../tasks/gating/gate-run.ts';
import type { GateResult } from '../tasks/lib/state-types.ts';
import { tempDir } from './support/fixture.ts';

/** What `npm test` prints for a red `node --test` (node 20), npm's epilogue included. */
const NODE_TEST_VIA_NPM = `
> user-project@1.0.0 test
> node --test

TAP version 13
# Subtest: cli add
not ok 1 - cli add
  ---
  duration_ms: 2.156624
  location: '/tmp/ex/t.test.mjs:3:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:

    '4' !== '5'

  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  expected: '5'
  actual: '4'
  operator: 'strictEqual'
  stack: |-
    TestContext.<anonymous> (file:///tmp/ex/t.test.mjs:3:30)
    Test.runInAsyncScope (node:async_hooks:206:9)
    Test.run (node:internal/test_runner/test:796:25)
  ...
# Subtest: ok one
ok 2 - ok one
  ---
  duration_ms: 0.211645
  ...
1..2
# tests 2
# pass 1
# fail 1
# cancelled 0
npm error Lifecycle script \`test\` failed with error:
npm error code 1
npm error path /tmp/ex
npm error command failed
npm error command sh -c node --test
`;

test('a red node --test under npm: the failed test, the assertion with its values, its place; not npm epilogue', () => {
  assert.is(
    explainGateLog(NODE_TEST_VIA_NPM),
    [
      'not ok 1 - cli add',
      "  location: '/tmp/ex/t.test.mjs:3:1'",
      '  error: |-',
      '    Expected values to be strictly equal:',
      "    '4' !== '5'",
      "  name: 'AssertionError'",
      "  expected: '5'",
      "  actual: '4'",
      '    TestContext.<anonymous> (file:///tmp/ex/t.test.mjs:3:30)',
      '# fail 1',
    ].join('\n'),
  );
});

test('compiler errors; counts of zero and passing lines are not reasons', () => {
  const log = [
    "src/a.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.",
    'src/b.ts:2:14 - error TS2322: Type number is not assignable to type string.',
    'lint: 0 errors, 0 warnings',
    '# fail 0',
    'Failures: 0',
    '✔ parses (1ms)',
    'done in 2s',
  ].join('\n');
  assert.is(
    explainGateLog(log),
    [
      "src/a.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.",
      'src/b.ts:2:14 - error TS2322: Type number is not assignable to type string.',
    ].join('\n'),
  );
});

test('one frame per stack, the first outside node and dependencies; uvu and shell failures', () => {
  const log = [
    '✘ adds (2ms)',
    'AssertionError: Expected 5 but got 4',
    '    at assert (node:internal/assert:14:15)',
    '    at Object.<anonymous> (/repo/node_modules/uvu/assert.js:10:3)',
    '    at add (/repo/test/add.test.js:7:3)',
    '    at run (/repo/test/helpers.js:20:5)',
    'sh: 1: eslint: not found',
  ].join('\n');
  assert.is(
    explainGateLog(log),
    [
      '✘ adds (2ms)',
      'AssertionError: Expected 5 but got 4',
      '    at add (/repo/test/add.test.js:7:3)',
      'sh: 1: eslint: not found',
    ].join('\n'),
  );
});

test('nothing that looks like a reason: the last lines; colours and progress rewrites are cleaned', () => {
  const log = ['step 1', 'step 2', '\x1b[32mstep 3\x1b[0m', 'download 10%\rdownload 100%', ''].join('\n');
  assert.is(explainGateLog(log, 3), 'step 2\nstep 3\ndownload 100%');
  assert.is(explainGateLog(''), '');
});

test('bounded: the last `max` reasons, repeated ones once, long lines cut, at most 2000 characters', () => {
  const many = Array.from({ length: 40 }, (_, i) => `error: problem ${i}`);
  assert.equal(explainGateLog(many.join('\n')).split('\n'), many.slice(-12));
  assert.equal(explainGateLog(many.join('\n'), 3).split('\n'), many.slice(-3));
  // A summary that repeats a failure keeps its last place.
  assert.is(explainGateLog('✖ add\nerror: boom\n✔ sub\n✖ add\n'), 'error: boom\n✖ add');
  const long = Array.from({ length: 20 }, (_, i) => `Error ${i}: ${'x'.repeat(1000)}`).join('\n');
  const out = explainGateLog(long);
  assert.ok(out.length <= 2000, `${out.length} characters`);
  for (const line of out.split('\n')) assert.ok(line.length <= 300 && line.endsWith('…'), line.slice(0, 40));
  assert.ok(out.endsWith(`Error 19: ${'x'.repeat(300 - 'Error 19: '.length - 1)}…`));
});

test('explainGateFailure reads only the end of the log (256 KiB); an unreadable log explains nothing', () => {
  const dir = tempDir('wm-gate-log-');
  try {
    const log = path.join(dir, 'gate.log');
    writeFileSync(
      log,
      `Error: far back at the start\n${'.'.repeat(300 * 1024)}\nbuild step\nAssertionError: near the end\n`,
    );
    const result: GateResult = { name: 'test', phase: 'post-merge', exitCode: 1, durationMs: 5, log };
    assert.is(explainGateFailure(result), 'AssertionError: near the end');
    writeFileSync(log, 'compiling\nlinking\n');
    assert.is(explainGateFailure(result, 1), 'linking');
    assert.is(explainGateFailure({ ...result, log: path.join(dir, 'missing.log') }), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gateOutputTail: the last lines of the end of the log, no colours, progress in its last state, lines cut', () => {
  const dir = tempDir('wm-gate-tail-');
  try {
    const log = path.join(dir, 'gate.log');
    const huge = 'y'.repeat(3 * 1024 * 1024);
    writeFileSync(
      log,
      `first line, far back\n${huge}\n\x1b[31mred\x1b[0m\n10%\r50%\r100%\nbell\x07 and NUL\0 gone\n` +
        `${'z'.repeat(2000)}\nREAL FAILURE: expected 4, got 5\n`,
    );
    const result: GateResult = { name: 'test', phase: 'pre-merge', exitCode: 1, durationMs: 5, log };
    const tail = gateOutputTail(result, 60);
    const lines = tail.split('\n');
    assert.equal(lines.slice(0, 3), ['red', '100%', 'bell and NUL gone']);
    assert.is(lines[3], `${'z'.repeat(499)}…`);
    assert.is(lines[4], 'REAL FAILURE: expected 4, got 5');
    assert.is(lines.length, 5, 'the 3 MiB line is before the tail that is read: not quoted, not even cut');
    assert.is(gateOutputTail(result, 1), 'REAL FAILURE: expected 4, got 5');
    // One line longer than the tail read: its end, cut to 500 characters.
    writeFileSync(log, huge);
    assert.is(gateOutputTail(result), `${'y'.repeat(499)}…`);
    assert.is(gateOutputTail({ ...result, log: path.join(dir, 'missing.log') }), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
