/** The crash tests' kill point (tasks/lib/kill-point.ts): parsed strictly, and it kills at the n-th matching event. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../tasks/lib/errors.ts';
import { createKillCheck, parseKillPoint } from '../tasks/lib/kill-point.ts';
import { cliEnv, ROOT, TSX } from './support/fixture.ts';

test('unset is no kill point; a malformed one is bad input naming the variable', () => {
  assert.is(parseKillPoint(undefined), null);
  assert.is(createKillCheck(null), null);
  assert.equal(parseKillPoint('{"any": [{"type": "merge"}], "n": 2}'), { any: [{ type: 'merge' }], n: 2 });
  for (const text of ['{', '{"any": {}, "n": 1}', '{"any": [], "n": 0}', '[]'])
    assert.throws(
      () => parseKillPoint(text),
      (e: unknown) => e instanceof BadInputError && e.message.startsWith('WM_KILL_AFTER_EVENT is not'),
      text,
    );
});

test('the process is SIGKILLed at the n-th event that has every field of one partial event, not before', () => {
  const script = `
    import { createKillCheck } from ${JSON.stringify(path.join(ROOT, 'tasks', 'lib', 'kill-point.ts'))};
    const check = createKillCheck({ any: [{ type: 'merge', issue: 2 }, { type: 'land' }], n: 2 });
    for (const e of [{ type: 'merge', issue: 1 }, { type: 'merge', issue: 2 }, { type: 'step-done' }]) check(e);
    process.stdout.write('alive after one match\\n');
    check({ type: 'land', phase: 'merged' });
    process.stdout.write('still alive\\n');
  `;
  const r = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    env: cliEnv(),
    encoding: 'utf8',
  });
  assert.is(r.signal, 'SIGKILL', r.stderr);
  assert.is(r.stdout, 'alive after one match\n');
});

test.run();
