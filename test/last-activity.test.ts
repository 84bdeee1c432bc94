/**
 * `lastActivity` (tasks/reporting/last-activity.ts): the one line the live board shows under a running item, from the
 * tail of its agent's output, for each kind of agent; bounded, one line, null when nothing was said yet.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ACTIVITY_CHARS, lastActivity } from '../tasks/reporting/last-activity.ts';

const json = (...events: unknown[]) => events.map((e) => JSON.stringify(e)).join('\n');

test('command and scripted agents: the last non-blank line, control characters and colours gone', () => {
  assert.is(lastActivity('building\ncompiling src/a.ts\n\n  \n', 'command'), 'compiling src/a.ts');
  assert.is(lastActivity('\u001b[32mok\u001b[0m 12 tests\tpassed\n', 'scripted'), 'ok 12 tests passed');
  // A progress bar redraws its line with a carriage return: the last drawing is what is shown.
  assert.is(lastActivity('downloading 10%\rdownloading 90%', 'command'), 'downloading 90%');
  assert.is(lastActivity('', 'command'), null);
  assert.is(lastActivity('\n \n\t\n', 'command'), null);
});

test('one line of at most ACTIVITY_CHARS characters, cut with an ellipsis', () => {
  const long = 'x'.repeat(500);
  const said = lastActivity(`${long}\n`, 'command') as string;
  assert.is(said.length, ACTIVITY_CHARS);
  assert.ok(said.endsWith('…'));
  const claude = lastActivity(
    json({ type: 'assistant', message: { content: [{ type: 'text', text: `line one\n${long}` }] } }),
    'claude',
  ) as string;
  assert.is(claude.length, ACTIVITY_CHARS);
  assert.not.match(claude, '\n');
});

test("claude's stream-json: the last tool call (with its command or file) or assistant text; tool results looked past", () => {
  const tail = json(
    { type: 'system', subtype: 'init' },
    { type: 'assistant', message: { content: [{ type: 'text', text: 'I will run the tests.\nFirst the build.' }] } },
    { type: 'assistant', message: { content: [{ type: 'tool_use', name: 'Bash', input: { command: 'npm test' } }] } },
    { type: 'user', message: { content: [{ type: 'tool_result', content: 'ok' }] } },
  );
  assert.is(lastActivity(tail, 'claude'), 'Bash: npm test');
  const text = json({
    type: 'assistant',
    message: {
      content: [
        { type: 'tool_use', name: 'Read', input: {} },
        { type: 'text', text: 'Done reading.\n' },
      ],
    },
  });
  assert.is(lastActivity(text, 'claude'), 'Done reading.');
  assert.is(
    lastActivity(
      json({ type: 'assistant', message: { content: [{ type: 'tool_use', name: 'TodoWrite' }] } }),
      'claude',
    ),
    'TodoWrite',
  );
  assert.is(
    lastActivity(json({ type: 'result', subtype: 'success', result: 'STATUS: COMPLETE\nNOTES: ok' }), 'claude'),
    'result: NOTES: ok',
  );
  // `--output-format json` prints nothing until its end; stderr lines are plain text.
  assert.is(lastActivity('', 'claude'), null);
  assert.is(lastActivity('warning: slow network\n', 'claude'), 'warning: slow network');
  // The tail starts anywhere: a cut JSON line is not JSON, and is shown as it is only when nothing better follows.
  assert.is(lastActivity(`"text":"half"}\n${json({ type: 'user' })}`, 'claude'), '"text":"half"}');
});

test("codex's JSON lines: the last command, message or file change", () => {
  const tail = json(
    { type: 'thread.started', thread_id: 't' },
    { type: 'item.completed', item: { type: 'agent_message', text: 'Looking at the code.' } },
    { type: 'item.started', item: { type: 'command_execution', command: 'bash -lc ls', status: 'in_progress' } },
    { type: 'turn.started' },
  );
  assert.is(lastActivity(tail, 'codex'), '$ bash -lc ls');
  assert.is(
    lastActivity(json({ type: 'item.completed', item: { type: 'file_change', changes: [{ path: 'a.ts' }] } }), 'codex'),
    'edit a.ts',
  );
  assert.is(
    lastActivity(json({ type: 'error', message: 'Reconnecting... 1/5' }), 'codex'),
    'error: Reconnecting... 1/5',
  );
  assert.is(lastActivity(json({ type: 'turn.completed', usage: {} }), 'codex'), null);
});

test.run();
