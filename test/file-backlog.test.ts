import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createFileBacklog } from '../tasks/backlog/file-backlog.ts';
import { DiagnosticsError } from '../tasks/lib/diagnostics.ts';
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
  return p.then(
    () => assert.unreachable('should have thrown'),
    (e: unknown) => e,
  );
}

test('readItem parses front matter and sections; absent file is undefined', async () => {
  const root = await rig({
    '3.md': item(3, 'priority: P1\ngroomed: true\nlabels: [ui]\ndepends_on: [1, 2]\nowner: me\n'),
  });
  const b = createFileBacklog(root);
  const got = await b.readItem(3);
  assert.equal(
    { ...got, body: undefined },
    {
      issue: 3,
      title: 'Item 3',
      status: 'open',
      milestone: 7,
      priority: 'P1',
      groomed: true,
      labels: ['ui'],
      dependsOn: [1, 2],
      body: undefined,
      sections: { Description: 'Do 3.' },
      source: 'plan/backlog/3.md',
    },
  );
  assert.is(await b.readItem(4), undefined);
});

test('listItems filters by milestone as strings, sorted by issue; missing dir gives []', async () => {
  const root = await rig({
    '10.md': item(10),
    '2.md': item(2),
    '5.md': item(5).replace('milestone: 7', 'milestone: "7"'),
    '6.md': item(6).replace('milestone: 7', 'milestone: 8'),
    'README.md': '# notes\n',
  });
  const b = createFileBacklog(root);
  assert.equal(
    (await b.listItems(7)).map((i) => i.issue),
    [2, 5, 10],
  );
  assert.equal(
    (await b.listItems('8')).map((i) => i.issue),
    [6],
  );
  assert.equal(await createFileBacklog(root, 'nowhere').listItems(7), []);
});

test('createItem writes the next free number after gaps and names; sections in order', async () => {
  const root = await rig({ '1.md': item(1), '7.md': item(7), '12.md': 'not an item', 'notes.md': item(15) });
  const b = createFileBacklog(root);
  const created = await b.createItem({
    title: 'New',
    milestone: 7,
    priority: 'P2',
    labels: ['a'],
    dependsOn: [1],
    sections: { Description: 'd', 'Acceptance Criteria': '- x' },
  });
  assert.is(created.issue, 16);
  assert.is(
    await readFile(path.join(root, DIR, '16.md'), 'utf8'),
    '---\nissue: 16\ntitle: New\nstatus: open\nmilestone: 7\npriority: P2\ngroomed: true\nlabels:\n  - a\ndepends-on:\n  - 1\n---\n\n## Description\n\nd\n\n## Acceptance Criteria\n\n- x\n',
  );
  assert.equal(await b.readItem(16), created);
  const fresh = await mkdtemp(path.join(os.tmpdir(), 'file-backlog-'));
  roots.push(fresh);
  assert.is(
    (await createFileBacklog(fresh, 'plan/new').createItem({ title: 't', milestone: 'm', sections: {} })).issue,
    1,
  );
});

test('concurrent createItem calls get distinct numbers and never overwrite', async () => {
  const root = await rig({ '4.md': item(4) });
  const b = createFileBacklog(root);
  const made = await Promise.all(
    [1, 2, 3, 4, 5].map((n) => b.createItem({ title: `c${n}`, milestone: 7, sections: {} })),
  );
  assert.equal(
    made.map((i) => i.issue).sort((x, y) => x - y),
    [5, 6, 7, 8, 9],
  );
  for (const m of made) assert.is((await b.readItem(m.issue))?.title, m.title);
  assert.equal((await readdir(path.join(root, DIR))).sort(), ['4.md', '5.md', '6.md', '7.md', '8.md', '9.md']);
});

test('setStatus rewrites only the status value, byte for byte', async () => {
  const text =
    '---\r\n# owned by the ui team\r\ntitle:   "Fancy: title"   # keep\r\nissue: 9\r\nstatus: open # was blocked\r\nlabels: [ b,  a ]\r\nmy-meta: {x: 1}\r\n---\r\nintro\r\n\r\n## Notes\r\nstatus: open\r\n';
  const root = await rig({ '9.md': text });
  const b = createFileBacklog(root);
  assert.equal(await b.setStatus(9, 'in-progress'), ['plan/backlog/9.md']);
  const after = await readFile(path.join(root, DIR, '9.md'), 'utf8');
  assert.is(after, text.replace('status: open #', 'status: in-progress #'));
  assert.equal(await b.setStatus(9, 'in-progress'), []);
  assert.is(await readFile(path.join(root, DIR, '9.md'), 'utf8'), after);
  assert.equal(await b.setStatus(9, 'done'), ['plan/backlog/9.md']);
  assert.is((await b.readItem(9))?.status, 'done');
  assert.equal(await readdir(path.join(root, DIR)), ['9.md']);
  await rejection(b.setStatus(10, 'done')).then((e) => assert.ok(e instanceof BadInputError));
});

const INVALID: [string, string, string][] = [
  ['wrong type', '---\nissue: 42\ntitle: 7\nstatus: open\n---\n', 'plan/backlog/42.md:3:8 error: title must be string'],
  [
    'missing title',
    '---\nissue: 42\nstatus: open\n---\n',
    'plan/backlog/42.md:2:1 error: front matter is missing required key "title"',
  ],
  [
    'bad status',
    '---\nissue: 42\ntitle: x\nstatus: closed\n---\n',
    'plan/backlog/42.md:4:9 error: status must be one of: open, in-progress, done, blocked',
  ],
  [
    'YAML syntax error',
    '---\nissue: 42\ntitle: [unclosed\nstatus: open\n---\n',
    'plan/backlog/42.md:4:1 error: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ],
  [
    'issue differs from file name',
    '---\n# moved\nissue: 41\ntitle: x\nstatus: open\n---\n',
    'plan/backlog/42.md:3:8 error: issue 41 does not match the file name 42.md',
  ],
  [
    'no front matter',
    '# just markdown\n',
    'plan/backlog/42.md:1:1 error: missing YAML front matter: the file must start with a --- line and close it with another',
  ],
  [
    'two problems',
    '---\nissue: 42\ntitle: x\nstatus: open\nmilestone: 1.5\nlabels: [a, 3]\n---\n',
    'plan/backlog/42.md:5:12 error: milestone must be integer or string or null\nplan/backlog/42.md:6:13 error: labels[1] must be string',
  ],
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

test("hostile titles round-trip exactly through createItem/readItem; the runner's own invalid titles are made to fit", async () => {
  const root = await rig();
  const b = createFileBacklog(root);
  const titles = [
    `it's "quoted" \\ 'both'`,
    '$(touch x)',
    '`rm -rf /`; echo $HOME',
    '---',
    '  leading and trailing spaces  ',
    'ünïcödé 日本語 🚀 sep',
    'x'.repeat(200),
    '🚀'.repeat(200),
    '- looks like a list',
    'key: value # comment',
    'null',
    'true',
    '123',
    '0x1F',
    '~',
    '&anchor *alias',
    '!tag',
    '{a: 1}',
    '[1]',
    '%YAML',
    '@at',
  ];
  for (const title of titles) {
    const made = await b.createItem({ title, milestone: 'M1', sections: { Description: title.trim() || 'x' } });
    const read = await b.readItem(made.issue);
    assert.is(read?.title, title, JSON.stringify(title));
    assert.equal(read, made);
  }
  // Control characters become spaces; a title over 200 characters is cut, ending in an ellipsis.
  const fitted: Array<[string, string]> = [
    ['line one\nline two', 'line one line two'],
    ['a\n---\nb', 'a --- b'],
    ['trailing newline\n', 'trailing newline '],
    ['tab\there', 'tab here'],
    ['cr\rhere', 'cr here'],
    ['nul\u0000byte', 'nul byte'],
    ['sep\u2028here', 'sep here'],
    ['x'.repeat(300), `${'x'.repeat(199)}…`],
    ['\n', 'untitled'],
  ];
  for (const [title, expected] of fitted) {
    const made = await b.createItem({ title, milestone: 'M1', sections: { Description: 'x' } });
    assert.is(made.title, expected, JSON.stringify(title));
    assert.is((await b.readItem(made.issue))?.title, expected);
  }
  assert.not.ok((await readdir(root)).includes('x'));
  assert.is((await b.listItems('M1')).length, titles.length + fitted.length);
});

const TITLE_PROBLEMS: [string, string, string][] = [
  [
    'title over 200 characters',
    `---\nissue: 42\ntitle: ${'y'.repeat(201)}\nstatus: open\n---\n`,
    'plan/backlog/42.md:3:8 error: title is 201 characters long; a title may have at most 200',
  ],
  [
    '200 KB title',
    `---\nissue: 42\ntitle: ${'y'.repeat(200 * 1024)}\nstatus: open\n---\n`,
    'plan/backlog/42.md:3:8 error: title is 204800 characters long; a title may have at most 200',
  ],
  [
    'NUL in the title',
    '---\nissue: 42\ntitle: "a\0b"\nstatus: open\n---\n',
    'plan/backlog/42.md:3:8 error: title has a control character (U+0000 at character 2); a title is one line of text without control characters',
  ],
  [
    'a literal NUL byte',
    '---\nissue: 42\ntitle: a\u0000b\nstatus: open\n---\n',
    'plan/backlog/42.md:3:8 error: title has a control character (U+0000 at character 2); a title is one line of text without control characters',
  ],
  [
    'two lines',
    '---\nissue: 42\ntitle: "one\\ntwo"\nstatus: open\n---\n',
    'plan/backlog/42.md:3:8 error: title has a control character (U+000A at character 4); a title is one line of text without control characters',
  ],
  [
    'a NUL in a title too long as well',
    `---\nissue: 42\ntitle: "${'y'.repeat(300)}\\0"\nstatus: open\n---\n`,
    'plan/backlog/42.md:3:8 error: title has a control character (U+0000 at character 301); a title is one line of text without control characters',
  ],
];

for (const [name, text, expected] of TITLE_PROBLEMS) {
  test(`backlog title: ${name}`, async () => {
    const b = createFileBacklog(await rig({ '42.md': text }));
    for (const call of [() => b.readItem(42), () => b.listItems(7), () => b.setStatus(42, 'done')]) {
      const e = await rejection(call());
      assert.instance(e, DiagnosticsError);
      assert.is((e as Error).message, expected);
    }
  });
}

test('a title of exactly 200 characters (emoji count as one) is a title', async () => {
  for (const title of ['y'.repeat(200), '🚀'.repeat(200)]) {
    const b = createFileBacklog(await rig({ '42.md': `---\nissue: 42\ntitle: ${title}\nstatus: open\n---\n` }));
    assert.is((await b.readItem(42))?.title, title);
  }
});

/** A repository-like root with an `outside` folder next to it holding a valid item file, `secret.md`. */
async function rigWithOutside(): Promise<{ root: string; outside: string; secret: string; secretText: string }> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'file-backlog-'));
  roots.push(base);
  const root = path.join(base, 'repo');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(root, DIR), { recursive: true });
  await mkdir(outside);
  const secretText = item(42).replace('Do 42.', 'SECRET outside the repository');
  await writeFile(path.join(outside, 'secret.md'), secretText);
  await writeFile(path.join(outside, '42.md'), secretText);
  return { root, outside, secret: path.join(outside, 'secret.md'), secretText };
}

test('a backlog file that is a symlink to a file outside the repository is refused, read and write; the target is never touched', async () => {
  const { root, secret, secretText } = await rigWithOutside();
  await symlink('../../../outside/secret.md', path.join(root, DIR, '42.md'));
  await writeFile(path.join(root, DIR, '43.md'), item(43));
  const b = createFileBacklog(root);
  const expected =
    'plan/backlog/42.md:1:1 error: plan/backlog/42.md is a symlink to ../../../outside/secret.md, outside the repository; a backlog item must be a regular file in the repository';
  for (const call of [() => b.readItem(42), () => b.listItems(7), () => b.setStatus(42, 'done')]) {
    const e = await rejection(call());
    assert.instance(e, DiagnosticsError);
    assert.is((e as DiagnosticsError).exitCode, 2);
    assert.is((e as Error).message, expected);
  }
  assert.is((await b.readItem(43))?.issue, 43);
  // An absolute target says so too.
  await rm(path.join(root, DIR, '42.md'));
  await symlink(secret, path.join(root, DIR, '42.md'));
  assert.is(
    ((await rejection(b.readItem(42))) as Error).message,
    expected.replace('../../../outside/secret.md', secret),
  );
  assert.is((await lstat(path.join(root, DIR, '42.md'))).isSymbolicLink(), true);
  assert.is(await readFile(secret, 'utf8'), secretText);
  // A symlink is never read for a number either: the next item is 44, not the secret's 42 + 1 = 43 again.
  assert.is((await b.createItem({ title: 'next', milestone: 7, sections: {} })).issue, 44);
});

test('a symlink inside the repository is refused too: the status would be rewritten through it', async () => {
  const root = await rig({ '5.md': item(5) });
  await symlink('5.md', path.join(root, DIR, '6.md'));
  const b = createFileBacklog(root);
  const e = await rejection(b.setStatus(6, 'done'));
  assert.instance(e, DiagnosticsError);
  assert.is(
    (e as Error).message,
    'plan/backlog/6.md:1:1 error: plan/backlog/6.md is a symlink to 5.md; a backlog item must be a regular file (its status is rewritten in place)',
  );
  assert.is(await readFile(path.join(root, DIR, '5.md'), 'utf8'), item(5));
});

test('a backlog folder that leads outside the repository through a symlink: no item is read from it, none written to it', async () => {
  const { root, outside, secretText } = await rigWithOutside();
  await rm(path.join(root, DIR), { recursive: true });
  await symlink('../../outside', path.join(root, DIR));
  const b = createFileBacklog(root);
  const expected =
    'plan/backlog/42.md:1:1 error: plan/backlog/42.md is reached through plan/backlog, a symlink to ../../outside, outside the repository; a backlog item must be a regular file in the repository';
  for (const call of [() => b.readItem(42), () => b.listItems(7), () => b.setStatus(42, 'done')])
    assert.is(((await rejection(call())) as Error).message, expected);
  const e = await rejection(b.createItem({ title: 'new', milestone: 7, sections: {} }));
  assert.instance(e, BadInputError);
  assert.match(
    (e as Error).message,
    /^backlog folder plan\/backlog is reached through plan\/backlog, a symlink to \.\.\/\.\.\/outside, outside the repository/,
  );
  assert.equal((await readdir(outside)).sort(), ['42.md', 'secret.md']);
  assert.is(await readFile(path.join(outside, '42.md'), 'utf8'), secretText);
});

test('createItem makes no backlog folder outside the repository through a symlinked parent', async () => {
  const { root, outside } = await rigWithOutside();
  await rm(path.join(root, 'plan'), { recursive: true });
  await symlink('../outside', path.join(root, 'plan'));
  const e = await rejection(createFileBacklog(root).createItem({ title: 'new', milestone: 7, sections: {} }));
  assert.instance(e, BadInputError);
  assert.is(
    (e as Error).message,
    'backlog folder plan/backlog is reached through plan, a symlink to ../outside, outside the repository; new items are not written there',
  );
  assert.equal((await readdir(outside)).sort(), ['42.md', 'secret.md']);
});

test('a backlog file that is a pipe or a folder is reported, and reading never hangs', async () => {
  const root = await rig({ '1.md': item(1) });
  await mkdir(path.join(root, DIR, '2.md'));
  execFileSync('mkfifo', [path.join(root, DIR, '3.md')]);
  const b = createFileBacklog(root);
  for (const issue of [2, 3]) {
    assert.is(
      ((await rejection(b.readItem(issue))) as Error).message,
      `plan/backlog/${issue}.md:1:1 error: plan/backlog/${issue}.md is not a regular file; a backlog item must be one`,
    );
  }
  assert.is((await b.createItem({ title: 'next', milestone: 7, sections: {} })).issue, 4);
});

test.after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

test.run();
