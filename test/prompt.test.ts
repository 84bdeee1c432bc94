/** The item prompt (tasks/agents/prompt.ts), in-process: the backlog's priority and labels reach the agent, bounded. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildItemPrompt, type ItemPromptInput } from '../tasks/agents/prompt.ts';
import type { CachedItem } from '../tasks/lib/state-types.ts';

function input(item: Partial<CachedItem>): ItemPromptInput {
  return {
    item: { issue: 42, title: 'Add login', source: 'github:#42', sections: {}, body: 'Do it.', ...item },
    milestone: '7',
    wave: 1,
    worktree: '/w/7-42',
    branch: 'wm/7/42',
    gates: [],
    relay: '',
    previousFailure: null,
  };
}

test('the built-in prompt names the priority and the labels when the backlog has them', () => {
  const prompt = buildItemPrompt(input({ labels: ['bug', 'ui'], priority: 'P1' }), null);
  assert.match(prompt, 'Priority: P1. Labels: bug, ui.');
  const plain = buildItemPrompt(input({}), null);
  assert.not.match(plain, 'Priority:');
  assert.not.match(plain, 'Labels:');
});

test('a template gets {{labels}} and {{priority}}; a label with a newline stays on one line; both are bounded', () => {
  const labels = ['needs\nreview', 'x'.repeat(2000)];
  const filled = buildItemPrompt(input({ labels, priority: 'high' }), '[{{priority}}] {{labels}}');
  assert.ok(filled.startsWith('[high] needs review, xxx'), filled.slice(0, 40));
  assert.not.match(filled, 'needs\nreview');
  assert.ok(filled.length < 1000, `labels were not bounded: ${filled.length} characters`);
});

test('linked dependency folders: the prompt says whose they are and how to install a copy of its own', () => {
  const linked = buildItemPrompt({ ...input({}), linked: ['node_modules'] }, null);
  assert.match(linked, "`node_modules` in your worktree is a link to the user's own: use it as it is, never install");
  assert.match(linked, '`rm node_modules` removes only the link');
  const both = buildItemPrompt({ ...input({}), linked: ['node_modules', '.venv'] }, '{{shared_folders}}');
  assert.ok(both.startsWith("`node_modules` and `.venv` in your worktree are links to the user's own"), both);
  assert.not.match(buildItemPrompt(input({}), null), 'link');
  assert.is(buildItemPrompt(input({}), '[{{shared_folders}}]'), '[]');
});

test.run();
