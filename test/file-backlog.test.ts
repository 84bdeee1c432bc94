import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFileBacklog } from '../tasks/backlog/file-backlog.ts';
import { BadInputError } from '../tasks/lib/errors.ts';

const DIR = 'plan/backlog';
const roots: string[] = [];

async function rig(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'file-backlog-'));
  roots.push(root);
  await mkdir(path.join(root, DIR), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(root, DIR, name), text);
  return root;
}

const item = (issue: number, extra = ''): string =>
  `---\nissue: ${issue}\ntitle: Item ${issue}\nstatus: open\nmilestone: 7\n${extra}---\n\n## Description\n\nDo ${issue}.\n`;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => assert.unreachable('should have thrown'), (e: unknown) => e);
}

test('readItem parses front matter and sections; absent file is undefined', async () => {
  const root = await rig({ '3.md': item(3, 'priority: P1\ngroomed: true\nlabels: [ui]\ndepends_on: [1, 2]\nowner: me\n') });
  const b = createFileBacklog(root);
  const got = await b.readItem(3);
  assert.equal({ ...got, body: undefined }, {
    issue: 3, title: 'Item 3', status: 'open', milestone: 7, priority: 'P1', groomed: true, labels: ['ui'], dependsOn: [1, 2],
    body: undefined, sections: { Description: 'Do 3.' }, source: 'plan/backlog/3.md',
  });
  assert.is(await b.readItem(4), undefined);
});

test('listItems filters by milestone as strings, sorted by issue; missing dir gives []', async () => {
  const root = await rig({ '10.md': item(10), '2.md': item(2), '5.md': item(5).replace('milestone: 7', 'milestone: "7"'), '6.md': item(6).replace('milestone: 7', 'milestone: 8'), 'README.md': '# notes\n' });
  const b = createFileBacklog(root);
  assert.equal((await b.listItems(7)).map((i) => i.issue), [2, 5, 10]);
  assert.equal((await b.listItems('8')).map((i) => i.issue), [6]);
  assert.equal(await createFileBacklog(root, 'nowhere').listItems(7), []);
});

test('createItem writes the next free number after gaps and names; sections in order', async () => {
  const root = await rig({ '1.md': item(1), '7.md': item(7), '12.md': 'not an item', 'notes.md': item(15) });
  const b = createFileBacklog(root);
  const created = await b.createItem({ title: 'New', milestone: 7, priority: 'P2', labels: ['a'], dependsOn: [1], sections: { Description: 'd', 'Acceptance Criteria': '- x' } });
  assert.is(created.issue, 16);
  assert.is(await readFile(path.join(root, DIR, '16.md'), 'utf8'),
    '---\nissue: 16\ntitle: New\nstatus: open\nmilestone: 7\npriority: P2\ngroomed: true\nlabels:\n  - a\ndepends-on:\n  - 1\n---\n\n## Description\n\nd\n\n## Acceptance Criteria\n\n- x\n');
  assert.equal(await b.readItem(16), created);
  const fresh = await mkdtemp(path.join(os.tmpdir(), 'file-backlog-'));
  roots.push(fresh);
  assert.is((await createFileBacklog(fresh, 'plan/new').createItem({ title: 't', milestone: 'm', sections: {} })).issue, 1);
});

test('concurrent createItem calls get distinct numbers and never overwrite', async () => {
  const root = await rig({ '4.md': item(4) });
  const b = createFileBacklog(root);
  const made = await Promise.all([1, 2, 3, 4, 5].map((n) => b.createItem({ title: `c${n}`, milestone: 7, sections: {} })));
  assert.equal(made.map((i) => i.issue).sort((x, y) => x - y), [5, 6, 7, 8, 9]);
  for (const m of made) assert.is((await b.readItem(m.issue))?.title, m.title);
  assert.equal((await readdir(path.join(root, DIR))).sort(), ['4.md', '5.md', '6.md', '7.md', '8.md', '9.md']);
});

test('setStatus rewrites only the status value, byte for byte', async () => {
  const text = '---\r\n# owned by the ui team\r\ntitle:   "Fancy: title"   # keep\r\nissue: 9\r\nstatus: open # was blocked\r\nlabels: [ b,  a ]\r\nmy-meta: {x: 1}\r\n---\r\nintro\r\n\r\n## Notes\r\nstatus: open\r\n';
  const root = await rig({ '9.md': text });
  const b = createFileBacklog(root);
  assert.equal(await b.setStatus(9, 'in-progress'), ['plan/backlog/9.md']);
  const after = await readFile(path.join(root, DIR, '9.md'), 'utf8');
  assert.is(after, text.replace('status: open #', 'status: in-progress #'));
  assert.equal(await b.setStatus(9, 'in-progress'), []);
  assert.is(await readFile(path.join(root, DIR, '9.md'), 'utf8'), after);
  assert.equal(await b.setStatus(9, 'done'), ['plan/backlog/9.md']);
  assert.is((await b.readItem(9))?.status, 'done');
  assert.equal((await readdir(path.join(root, DIR))), ['9.md']);
  await rejection(b.setStatus(10, 'done')).then((e) => assert.ok(e instanceof BadInputError));
});

const INVALID: [string, string, string][] = [
  ['wrong type', '---\nissue: 42\ntitle: 7\nstatus: open\n---\n', 'plan/backlog/42.md:3:8 error: title must be string'],
  ['missing title', '---\nissue: 42\nstatus: open\n---\n', 'plan/backlog/42.md:2:1 error: missing required property "title"'],
  ['bad status', '---\nissue: 42\ntitle: x\nstatus: closed\n---\n', 'plan/backlog/42.md:4:9 error: status must be one of open, in-progress, done, blocked'],
  ['YAML syntax error', '---\nissue: 42\ntitle: [unclosed\nstatus: open\n---\n', 'plan/backlog/42.md:4:1 error: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  ['issue differs from file name', '---\n# moved\nissue: 41\ntitle: x\nstatus: open\n---\n', 'plan/backlog/42.md:3:8 error: issue 41 does not match the file name 42.md'],
  ['no front matter', '# just markdown\n', 'plan/backlog/42.md:1:1 error: missing YAML front matter: the file must start with a --- line and close it with another'],
  ['two problems', '---\nissue: 42\ntitle: x\nstatus: open\nmilestone: 1.5\nlabels: [a, 3]\n---\n',
    'plan/backlog/42.md:5:12 error: milestone must be integer or string or null\nplan/backlog/42.md:6:13 error: labels[1] must be string'],
];

for (const [name, text, expected] of INVALID) {
  test(`invalid front matter: ${name}`, async () => {
    const b = createFileBacklog(await rig({ '42.md': text }));
    for (const call of [() => b.readItem(42), () => b.listItems(7), () => b.setStatus(42, 'done')]) {
      const e = await rejection(call());
      assert.ok(e instanceof BadInputError);
      assert.is((e as Error).message, expected);
    }
  });
}

test('hostile titles round-trip exactly through createItem/readItem', async () => {
  const root = await rig();
  const b = createFileBacklog(root);
  const titles = [
    `it's "quoted" \\ 'both'`, '$(touch x)', '`rm -rf /`; echo $HOME', 'line one\nline two', 'a\n---\nb', '---', 'trailing newline\n',
    '  leading and trailing spaces  ', 'ünïcödé 日本語 🚀 \u2028 sep', 'x'.repeat(300), '- looks like a list', 'key: value # comment',
    'null', 'true', '123', '0x1F', '~', '&anchor *alias', '!tag', '{a: 1}', '[1]', '%YAML', '@at', 'tab\there', 'cr\rhere',
  ];
  for (const title of titles) {
    const made = await b.createItem({ title, milestone: 'M1', sections: { Description: title.trim() || 'x' } });
    const read = await b.readItem(made.issue);
    assert.is(read?.title, title, JSON.stringify(title));
    assert.equal(read, made);
  }
  assert.not.ok((await readdir(root)).includes('x'));
  assert.is((await b.listItems('M1')).length, titles.length);
});

test.after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

test.run();
