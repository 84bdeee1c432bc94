/** oneLine (tasks/lib/bounded-text.ts): the one way a title or message is put on one line of output. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { oneLine } from '../tasks/lib/bounded-text.ts';
import { envValue } from '../tasks/lib/child-env.ts';

test('oneLine: newlines, tabs, control characters and line separators become one space; ends trimmed', () => {
  assert.is(oneLine('  Fix\r\n  the\t\tparser\u0000now\u2028please \u0085 '), 'Fix the parser now please');
  assert.is(oneLine('a\nb\tc\u0000d'), 'a b c d');
  assert.is(oneLine('plain ünïcode 🙂'), 'plain ünïcode 🙂');
  assert.is(oneLine(' \n\t '), '');
});

test("envValue keeps a value's own spaces (a path) and turns each control character into one space", () => {
  assert.is(envValue('/tmp/my  worktree'), '/tmp/my  worktree');
  assert.is(envValue('a\n\nb'), 'a  b');
});

test.run();
