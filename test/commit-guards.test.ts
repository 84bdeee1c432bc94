/**
 * The commit guards' size check (docs/performance.md, "Git calls"): a text file the change adds is measured from its
 * patch, anything else by git; either way a file over the limit is found, one under it is not.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { guardCommits, oversizedFiles } from '../tasks/guards/agent-guards.ts';
import { readChange } from '../tasks/lib/git-change.ts';
import { inRepo, touchedRunnerFiles, type RunnerFiles } from '../tasks/guards/runner-files.ts';
import { emptyRepo, git } from './support/fixture.ts';

async function repo(): Promise<{ dir: string; base: string }> {
  const dir = await emptyRepo('wm-sizes-');
  writeFileSync(path.join(dir, 'old.txt'), 'one\ntwo\n');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'base');
  return { dir, base: await git(dir, 'rev-parse', 'HEAD') };
}

test('added text files are measured from the patch; binary and modified files by git; the limit holds for all', async () => {
  const { dir, base } = await repo();
  writeFileSync(path.join(dir, 'small.txt'), 'a\nb\nno newline at the end');
  writeFileSync(path.join(dir, 'big.txt'), `${'y'.repeat(1023)}\n`.repeat(300));
  writeFileSync(path.join(dir, 'bin.dat'), Buffer.concat([Buffer.from([0]), Buffer.alloc(300 * 1024, 1)]));
  writeFileSync(path.join(dir, 'old.txt'), `one\ntwo\n${'z'.repeat(300 * 1024)}\n`);
  writeFileSync(path.join(dir, 'émoji ✓.txt'), '✓✓✓\n');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'change');
  const tip = await git(dir, 'rev-parse', 'HEAD');
  const change = await readChange(dir, base, tip);
  const lengths = change.addedText;
  const blob = async (file: string) => git(dir, 'rev-parse', `${tip}:${file}`);
  // Each line's `+` stands for its newline: one more for a last line without one.
  assert.is(lengths.get(await blob('small.txt')), 'a\nb\nno newline at the end'.length + 1);
  assert.is(lengths.get(await blob('big.txt')), 300 * 1024);
  assert.is(lengths.get(await blob('émoji ✓.txt')), 4);
  assert.not.ok(lengths.has(await blob('bin.dat')), 'binary: asked of git');
  assert.not.ok(lengths.has(await blob('old.txt')), 'modified: asked of git');
  // A limit of 200 KiB: the added text file over it is found from its patch, the binary and the modified one by git.
  const over = await oversizedFiles(dir, base, tip, 200 * 1024, change);
  assert.equal(over.map((f) => f.path).sort(), ['big.txt', 'bin.dat', 'old.txt']);
  // A limit the patch cannot rule out for big.txt (4 units per byte is the bound): git is asked, and says no.
  const exact = await oversizedFiles(dir, base, tip, 1024 * 1024, change);
  assert.equal(exact, []);
});

test('conflict markers: a file adding both kinds is found, one kind is not; an added "++ " line is content', async () => {
  const { dir, base } = await repo();
  writeFileSync(path.join(dir, 'both.txt'), 'a\n<<<<<<< ours\nx\n=======\ny\n>>>>>>> theirs\n');
  writeFileSync(path.join(dir, 'open.txt'), '<<<<<<< only the opening one\n');
  // Its `-U0` patch line reads `+++ fake` in the middle of a hunk: not a header, so the markers stay with this file.
  writeFileSync(path.join(dir, 'tricky.md'), '<<<<<<< HEAD\n++ fake\n>>>>>>> other\n');
  writeFileSync(path.join(dir, 'old.txt'), 'one\ntwo\n' + 'y'.repeat(100_000) + '\n');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'markers');
  const tip = await git(dir, 'rev-parse', 'HEAD');
  const change = await readChange(dir, base, tip);
  assert.equal([...change.conflictMarkers].sort(), ['both.txt', 'tricky.md']);
  assert.equal(
    change.files.map((f) => `${f.status} ${f.path}`),
    ['A both.txt', 'M old.txt', 'A open.txt', 'A tricky.md'],
  );
  assert.is(
    change.addedText.get(await git(dir, 'rev-parse', `${tip}:tricky.md`)),
    'x<<<<<<< HEAD\n++ fake\n>>>>>>> other'.length,
  );
  // The same pair read again is the same parse (shared by the judge and the guards), then read anew.
  assert.ok((await readChange(dir, base, tip)) === change);
  assert.ok((await readChange(dir, base, tip)) !== change);
});

test("the runner's files: another item's backlog file, a new one or the plan (a name git quotes) fail; its own is a flag", async () => {
  const { dir, base } = await repo();
  const kept = { plan: 'plan/mïlestone-7.yaml', backlogDir: 'plan/backlog' };
  const change = async (files: Record<string, string>) => {
    await git(dir, 'checkout', '-q', '--detach', base);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '-m', 'change');
    return guardCommits(dir, base, await git(dir, 'rev-parse', 'HEAD'), { issue: 2, kept });
  };
  const other = await change({ 'plan/backlog/3.md': 'status: done\n', 'src/a.txt': 'a\n' });
  assert.equal(other.flags, []);
  assert.is(other.violations.length, 1);
  assert.match(
    other.violations[0] as string,
    /^changed the milestone's plan or backlog files, which the runner keeps: plan\/backlog\/3\.md/,
  );
  const added = await change({ 'plan/backlog/15.md': 'new\n' });
  assert.match(added.violations.join(), /plan\/backlog\/15\.md/);
  const plan = await change({ 'plan/mïlestone-7.yaml': 'waves: []\n' });
  assert.match(plan.violations.join(), /plan\/mïlestone-7\.yaml/);
  // Not the runner's: other files of the folder, or beside it.
  const own = await change({
    'plan/backlog/2.md': 'status: done\n',
    'plan/backlog/README.md': 'how we groom\n',
    'plan/backlog/drafts/4.md': 'a draft\n',
    'plan/backlog-notes.md': 'not the folder\n',
  });
  assert.equal(own, { violations: [], flags: ['changed its own backlog file plan/backlog/2.md'] });
  // Without an owner, only sizes and markers count.
  const tip = await git(dir, 'rev-parse', 'HEAD');
  assert.equal(await guardCommits(dir, base, tip), { violations: [], flags: [] });
});

test('runner files of a backlog at the top of the repository, or named with ./', () => {
  const top = { plan: null, backlogDir: inRepo('.') };
  assert.equal(touchedRunnerFiles(['3.md', 'README.md', 'src/3.md'], top as RunnerFiles, 2).others, ['3.md']);
  assert.is(inRepo('./plan/backlog/'), 'plan/backlog');
  assert.is(inRepo('../elsewhere'), null);
});

test('a file that was over the limit already (a large lockfile) may change: a flag, not a violation; one it grows fails', async () => {
  const { dir } = await repo();
  const lock = (n: number) => `${'dependency line\n'.repeat(n)}`;
  // 11 MiB of lockfile at the base, and a small file.
  writeFileSync(path.join(dir, 'pnpm-lock.yaml'), lock((11 * 1024 * 1024) / 16));
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'large lockfile');
  const base = await git(dir, 'rev-parse', 'HEAD');
  writeFileSync(path.join(dir, 'pnpm-lock.yaml'), lock((11 * 1024 * 1024) / 16 + 10));
  writeFileSync(path.join(dir, 'old.txt'), Buffer.alloc(11 * 1024 * 1024, 'x'));
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'update');
  const tip = await git(dir, 'rev-parse', 'HEAD');
  const over = await oversizedFiles(dir, base, tip);
  assert.equal(over.map((f) => [f.path, f.wasLarge]).sort(), [
    ['old.txt', false],
    ['pnpm-lock.yaml', true],
  ]);
  const found = await guardCommits(dir, base, tip);
  assert.equal(found.violations, ['commits files over 10 MiB: old.txt (11.0 MiB)']);
  assert.equal(found.flags, ['changes files over 10 MiB (as large before): pnpm-lock.yaml (11.0 MiB)']);
  // Moved (a deletion and an addition of the same blob): as large where it was.
  mkdirSync(path.join(dir, 'deps'), { recursive: true });
  await git(dir, 'mv', 'pnpm-lock.yaml', 'deps/pnpm-lock.yaml');
  await git(dir, 'commit', '-q', '-m', 'move');
  const moved = await guardCommits(dir, tip, await git(dir, 'rev-parse', 'HEAD'));
  assert.equal(moved.violations, []);
  assert.equal(moved.flags, ['changes files over 10 MiB (as large before): deps/pnpm-lock.yaml (11.0 MiB)']);
});

test.run();
