/**
 * tasks/lib/bounded-text.ts: control characters, cut texts and lists with their markers, file tails read at an offset.
 */
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  LIMITS,
  capEntry,
  capList,
  capText,
  oneLine,
  readTail,
  splitMarker,
  stripControl,
} from '../tasks/lib/bounded-text.ts';
import { tempDir } from './support/fixture.ts';

test('stripControl: NUL, escapes, DEL and C1 go; tabs and newlines stay; CR LF and lone CR become LF', () => {
  assert.is(stripControl('a\u0000b\u0007c\u001b[31md\u007fe\u0085f\tg\r\nh\ri\n'), 'abc[31mdef\tg\nh\ni\n');
  assert.is(stripControl('plain ünïcode 🙂'), 'plain ünïcode 🙂');
});

test('oneLine: every control character, newlines too, becomes a space', () => {
  assert.is(oneLine('a\nb\tc\u0000d'), 'a b c d');
});

test('capText: short text unchanged; long text cut with how much and where; never inside a surrogate pair', () => {
  assert.is(capText('hello', 5, 'x'), 'hello');
  assert.is(
    capText('hello world', 5, 'full text in /s/item-1.stdout'),
    'hello… (6 more characters; full text in /s/item-1.stdout)',
  );
  assert.is(capText('hello world', 5), 'hello… (6 more characters)');
  assert.is(capText('ab🙂cd', 3), 'ab… (4 more characters)', 'the emoji is not split');
});

test('capText: cutting a cut text again changes nothing, or adds up the counts', () => {
  const once = capText('x'.repeat(100), 10, 'full text in f');
  assert.is(capText(once, 10, 'elsewhere'), once);
  assert.is(capText(once, 4, 'elsewhere'), 'xxxx… (96 more characters; full text in f)');
});

test('capEntry: an entry over the cap ends with an ellipsis at exactly the cap', () => {
  assert.is(capEntry('abcdef', 4), 'abc…');
  assert.is(capEntry('abcd', 4), 'abcd');
});

test('capList: at most N entries and M characters, each entry cut; a marker says how many more and where', () => {
  const cap = { entries: 3, entryChars: 6, totalChars: 100 };
  assert.equal(capList(['a', 'b'], cap, 'w'), ['a', 'b']);
  assert.equal(capList(['a', 'b', 'c', 'd', 'e'], cap, 'full list in f'), [
    'a',
    'b',
    'c',
    '… (2 more; full list in f)',
  ]);
  assert.equal(capList(['abcdefgh', 'b'], cap), ['abcde…', 'b']);
  assert.equal(
    capList(['aaaa', 'bbbb', 'cccc'], { entries: 10, entryChars: 10, totalChars: 8 }, 'w'),
    ['aaaa', 'bbbb', '… (1 more; w)'],
    'the character budget',
  );
  assert.equal(
    capList(['a', 'b'], cap, 'git log', 3000),
    ['a', 'b', '… (2998 more; git log)'],
    'a list that is part of a longer one',
  );
});

test('capList: cutting a cut list again with the same cap changes nothing; a tighter cap adds up the counts', () => {
  const cap = { entries: 3, entryChars: 10, totalChars: 100 };
  const once = capList(
    Array.from({ length: 50 }, (_, i) => `e${i}`),
    cap,
    'full list in f',
  );
  assert.equal(once, ['e0', 'e1', 'e2', '… (47 more; full list in f)']);
  assert.equal(capList(once, cap, 'other'), once);
  assert.equal(capList(once, { ...cap, entries: 1 }, 'other'), ['e0', '… (49 more; full list in f)']);
  assert.equal(splitMarker(once), { entries: ['e0', 'e1', 'e2'], more: 47, where: 'full list in f' });
});

test('readTail: a small file whole; a big one only its last bytes, the partial first line dropped', () => {
  const dir = tempDir();
  try {
    const small = path.join(dir, 'small');
    writeFileSync(small, 'one\ntwo\n');
    assert.equal(readTail(small, 1024), { text: 'one\ntwo\n', skipped: 0 });
    const big = path.join(dir, 'big');
    writeFileSync(big, `${'x'.repeat(5000)}\nSTATUS: COMPLETE\nNOTES: n\n`);
    const t = readTail(big, 100);
    assert.is(t.text, 'STATUS: COMPLETE\nNOTES: n\n');
    assert.is(t.skipped, 5001);
    assert.equal(readTail(path.join(dir, 'missing'), 10), { text: '', skipped: 0 });
    const oneLong = path.join(dir, 'one-line');
    writeFileSync(oneLong, 'y'.repeat(300));
    assert.equal(readTail(oneLong, 100), { text: 'y'.repeat(100), skipped: 200 }, 'no newline: the tail as it is');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readTail: a 1 GiB sparse file is read at its end (4 MiB), not whole', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'huge.stdout');
    const fd = openSync(file, 'w');
    const report = '\nSTATUS: COMPLETE\nNOTES: end\n';
    // A hole of 1 GiB then the report: reading it whole would take a 1 GiB buffer (over Node's string limit).
    writeSync(fd, report, 1024 ** 3);
    closeSync(fd);
    const before = process.memoryUsage().rss;
    const t = readTail(file, LIMITS.stdoutTailBytes);
    assert.ok(t.text.endsWith('STATUS: COMPLETE\nNOTES: end\n'));
    assert.ok(t.text.length <= LIMITS.stdoutTailBytes);
    assert.is(t.skipped + Buffer.byteLength(t.text), 1024 ** 3 + Buffer.byteLength(report));
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'memory grew by less than 64 MiB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readTail: a named pipe without a writer, a folder, a device read as empty, at once', () => {
  const dir = tempDir();
  try {
    const pipe = path.join(dir, 'item-1.exit');
    execFileSync('mkfifo', [pipe]);
    // Opened the blocking way this would wait for a writer forever, and with it the runner's whole event loop.
    assert.equal(readTail(pipe, 4096), { text: '', skipped: 0 });
    assert.equal(readTail(dir, 4096), { text: '', skipped: 0 });
    assert.equal(readTail('/dev/zero', 4096), { text: '', skipped: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
