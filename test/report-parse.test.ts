/**
 * `parseReport` (tasks/agents/completion-report.ts): the completion report (README, "Agents") as agents really write
 * it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseReport } from '../tasks/agents/completion-report.ts';

test('the plain format', () => {
  const text =
    'I did it.\n\nSTATUS: COMPLETE\nBRANCH: work/7-42-tokenizer\nFILES_CHANGED:\nsrc/a.ts\ntest/a.test.ts\nCOMMITS:\n1a2b3c4 feat: tokenizer\nTASKS_BLOCKED: none\nNOTES: split on whitespace\n';
  assert.equal(parseReport(text), {
    status: 'COMPLETE',
    branch: 'work/7-42-tokenizer',
    filesChanged: ['src/a.ts', 'test/a.test.ts'],
    commits: ['1a2b3c4 feat: tokenizer'],
    tasksBlocked: [],
    notes: 'split on whitespace',
  });
});

test('markdown: bullets, bold keys (colon inside and outside), backticks, headings, CRLF', () => {
  const text = [
    '## Report',
    '- **STATUS:** `COMPLETE`',
    '- **BRANCH**: `work/7-42-tokenizer`',
    '- **FILES_CHANGED:**',
    '  - `src/search/tokenize.ts`',
    '  * `test/tokenize.test.ts`',
    '  1. docs/search.md',
    '- `COMMITS`:',
    '  - `1a2b3c4` feat(search): tokenizer',
    '- **TASKS_BLOCKED:** #3, #4',
    '- **NOTES:** kept the old API',
  ].join('\r\n');
  assert.equal(parseReport(text), {
    status: 'COMPLETE',
    branch: 'work/7-42-tokenizer',
    filesChanged: ['src/search/tokenize.ts', 'test/tokenize.test.ts', 'docs/search.md'],
    commits: ['1a2b3c4 feat(search): tokenizer'],
    tasksBlocked: ['#3', '#4'],
    notes: 'kept the old API',
  });
});

test('multi-line FILES_CHANGED, COMMITS and NOTES; inline comma lists; a fenced report', () => {
  const text = [
    'Summary above.',
    '```',
    'STATUS: PARTIAL',
    'FILES_CHANGED: a.ts, b/c.ts',
    'd.ts',
    'COMMITS:',
    'aaaaaaa first',
    '',
    'bbbbbbb second: with a colon',
    'NOTES: line one',
    'line two',
    '',
    'line four',
    '```',
  ].join('\n');
  const r = parseReport(text);
  assert.is(r?.status, 'PARTIAL');
  assert.is(r?.branch, null);
  assert.equal(r?.filesChanged, ['a.ts', 'b/c.ts', 'd.ts']);
  assert.equal(r?.commits, ['aaaaaaa first', 'bbbbbbb second: with a colon']);
  assert.is(r?.notes, 'line one\nline two\n\nline four');
});

test('several STATUS lines: the last one wins (an echoed template or a draft comes first)', () => {
  const text = [
    'The format is:',
    'STATUS: COMPLETE | PARTIAL | FAILED',
    'BRANCH: <branch>',
    '',
    'First try: STATUS would have been FAILED.',
    'STATUS: FAILED',
    'NOTES: draft',
    '',
    'Final report:',
    'STATUS: PARTIAL',
    'BRANCH: work/7-1-x',
    'NOTES: final',
  ].join('\n');
  const r = parseReport(text);
  assert.is(r?.status, 'PARTIAL');
  assert.is(r?.branch, 'work/7-1-x');
  assert.is(r?.notes, 'final');
});

test('DONE is COMPLETE, BLOCKED is FAILED; any case, with decorations', () => {
  const status = (line: string) => parseReport(`${line}\nNOTES: n`)?.status;
  assert.is(status('STATUS: DONE'), 'COMPLETE');
  assert.is(status('STATUS: done.'), 'COMPLETE');
  assert.is(status('**STATUS:** ✅ Complete'), 'COMPLETE');
  assert.is(status('STATUS: BLOCKED'), 'FAILED');
  assert.is(status('- STATUS: blocked (needs a key)'), 'FAILED');
  assert.is(status('STATUS: Failed'), 'FAILED');
  assert.is(status('> STATUS: PARTIAL'), 'PARTIAL');
  assert.is(status('### STATUS: PARTIAL'), 'PARTIAL');
});

test('no report: no STATUS line gives null; an unknown STATUS word gives status null', () => {
  assert.is(parseReport(''), null);
  assert.is(parseReport('All done! The status is good.\nFILES_CHANGED: a.ts'), null);
  assert.is(parseReport('the STATUS: COMPLETE is in a sentence'), null);
  const r = parseReport('STATUS: MAYBE\nNOTES: unsure');
  assert.ok(r);
  assert.is(r?.status, null);
  assert.is(r?.notes, 'unsure');
  assert.is(parseReport('STATUS:\nNOTES: x')?.status, null);
});

test('"none" spellings are empty lists', () => {
  const r = parseReport('STATUS: COMPLETE\nFILES_CHANGED: none\nCOMMITS:\n- (none)\nTASKS_BLOCKED: None.\nNOTES:');
  assert.equal(r?.filesChanged, []);
  assert.equal(r?.commits, []);
  assert.equal(r?.tasksBlocked, []);
  assert.is(r?.notes, '');
});

test('a later "STATUS:" line that is not a status (free text in NOTES) does not replace the report', () => {
  const text =
    'STATUS: COMPLETE\nFILES_CHANGED: api.ts\nNOTES: removed an endpoint:\n- STATUS: the old /status route is gone\nmore notes';
  const r = parseReport(text);
  assert.is(r?.status, 'COMPLETE');
  assert.equal(r?.filesChanged, ['api.ts']);
  assert.is(r?.notes, 'removed an endpoint:\n- STATUS: the old /status route is gone\nmore notes');
});

test('NUL and other control characters are removed (tabs and newlines stay); CR LF and lone CR are line ends; nothing is cut', () => {
  const r = parseReport(
    `STATUS: COMPLETE\r\nFILES_CHANGED:\r\n- a\u0000.ts\rCOMMITS:\n- abc1234 fix\u001b[0m\nNOTES: one\u0000two\tthree\u0007\nfour ${'n'.repeat(300_000)}`,
  );
  assert.equal(r?.filesChanged, ['a.ts']);
  assert.equal(r?.commits, ['abc1234 fix[0m']);
  assert.ok(r?.notes.startsWith('onetwo\tthree\nfour nnn'));
  assert.is(r?.notes.length, 'onetwo\tthree\nfour '.length + 300_000);
});

test.run();
