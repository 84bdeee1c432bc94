/**
 * Titles are data, never code (docs/plan-format.md, "Titles"): shell substitutions, backticks, quotes, heading-like
 * text, unicode and RTL marks, 200 characters (the limit), `..`, `/`, option-like text, in the plan and in the backlog.
 * Branch names stay valid, nothing is executed, and the milestone lands.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { git, makeRepo, readStateFile } from './support/fixture.ts';
import { killRecordedAgents, run, show } from './support/wave-rig.ts';

test('hostile titles in plan and backlog: valid branches, no canary, the run completes', async () => {
  const canary = path.join(os.tmpdir(), `wm-pwned-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const touch = `touch ${canary}`;
  // [plan title, backlog title]
  const titles: Array<[string, string]> = [
    [`$(${touch})`, `$(${touch}) from the backlog`],
    [`\`${touch}\``, `\`${touch}\``],
    [`"double" 'single' \\"; ${touch}; echo '`, `it's "quoted"; ${touch} #`],
    // One line each (a newline is refused by the plan checks), with what would be a markdown heading elsewhere.
    [`line one ## line two $(${touch})`, `first line ## Description \`${touch}\` not a section`],
    ['Ünïcödé \u202eRTL override\u200f 日本語 ✓ émoji 🚀', '\u202b\u05e9\u05dc\u05d5\u05dd\u202c mixed ltr'],
    // At the documented limit of 200 characters (longer titles are refused with file:line:col).
    ['long '.repeat(40).trim(), 'x'.repeat(200)],
    ['..', '..'],
    ['/', '/'],
    ['--upload-pack=x', '--upload-pack=touch'],
    ['-n HEAD @{-1} refs/heads/main ~^:?*[ .lock', '-- --force'],
  ];
  const yamlItems = titles.map(([plan], i) => `      - {issue: ${i + 1}, title: ${JSON.stringify(plan)}}`);
  const planText = [
    'milestone:',
    `  number: 7`,
    `  title: ${JSON.stringify(`Hostile $(${touch}) \`x\` — ünï`)}`,
    'waves:',
    '  - wave: 1',
    '    items:',
    ...yamlItems,
    '  - wave: 2',
    '    items:',
    `      - {issue: 11, title: ${JSON.stringify(`after all: $(${touch})`)}, depends-on: [1, 4, 7, 8]}`,
    'defaults:',
    '  agent: command',
    // A careful agent: the title only ever as a quoted parameter; it is written to a file and committed.
    `  command: ${JSON.stringify('printf "%s\\n" "$WM_TITLE" > "title-$WM_ISSUE.txt" && git add . && git commit -qm "item $WM_ISSUE" && printf "STATUS: COMPLETE\\nNOTES: %s\\n" "$WM_TITLE"')}`,
    '  timeout: 30s',
    '  retries: 0',
    '  concurrency: 4',
    '',
  ].join('\n');
  const items = [
    ...titles.map(([, backlog], i) => ({ issue: i + 1, title: backlog })),
    { issue: 11, title: `backlog $(${touch})` },
  ];
  const repo = await makeRepo({ plan: planText, items });
  try {
    const r = await run(repo);
    assert.is(r.code, 0, show(r));
    assert.not.ok(existsSync(canary), 'a title was executed by a shell');
    const state = readStateFile(repo);
    const branches = [state.branch.name as string];
    for (const [issue, it] of Object.entries<any>(state.items)) {
      assert.is(it.status, 'complete', `#${issue}: ${JSON.stringify(it)}`);
      branches.push(it.branch);
      // The agent got the plan's title byte for byte.
      const planTitle = issue === '11' ? `after all: $(${touch})` : (titles[Number(issue) - 1]?.[0] as string);
      const committed = await git(repo.dir, 'show', `${it.result.commits[0].sha}:title-${issue}.txt`);
      assert.is(committed, planTitle.trim(), `#${issue} title as the agent saw it`);
      // The prompt carries the backlog's title.
      const prompt = readFileSync(path.join(repo.stateDir, 'items', issue, 'prompt-1.md'), 'utf8');
      assert.ok(prompt.includes(state.cache[issue].title), `#${issue} prompt has the backlog title`);
    }
    for (const b of branches) {
      assert.ok(b.length <= 100, b);
      assert.is(await git(repo.dir, 'check-ref-format', '--branch', b), b);
    }
    assert.ok(branches.includes('work/7-7-item') && branches.includes('work/7-8-item'), branches.join('\n'));
    assert.ok(
      branches.every((b) => !b.includes('upload-pack=') && !/\/-/.test(b)),
      branches.join('\n'),
    );
    assert.is(state.cache['4'].title, titles[3]?.[1]);
    // Every merge commit subject is one line; main has every item's work.
    const subjects = (await git(repo.dir, 'log', '--format=%s', '--merges', 'main')).split('\n');
    assert.ok(subjects.filter((s) => s.startsWith('Merge #')).length === 11, subjects.join('\n'));
    for (let i = 1; i <= 11; i++) await git(repo.dir, 'cat-file', '-e', `main:title-${i}.txt`);
    const relay = readFileSync(path.join(repo.stateDir, 'relay', 'wave-1.md'), 'utf8');
    assert.ok(relay.includes('#### Item: #4 — line one ## line two'), relay);
    assert.not.ok(existsSync(canary), 'a title was executed by a shell');
  } finally {
    killRecordedAgents(path.join(repo.stateDir, 'state.json'));
    rmSync(canary, { force: true });
    repo.cleanup();
  }
});

test.run();
