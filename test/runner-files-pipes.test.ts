/**
 * An agent that puts named pipes where the runner writes and reads its own files (the event log, the state journal,
 * the git-setup baselines, a later item's prompt and result, the relay, the report): the run goes on and lands,
 * where a plain open of a pipe used to stop the whole runner for good (SIGTERM included). A plan file replaced by a
 * pipe is one sentence and exit 2.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, makeRepo, readEvents, readStateFile, runCli } from './support/fixture.ts';
import { hostileMilestone } from './support/hostile.ts';
import { planYaml } from './support/plan.ts';

test('pipes an agent puts at the runner files do not stop the run: it lands, and the files are files again', async () => {
  // Item 1's agent plants the pipes, then does its work.
  const plant = [
    'S="$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone/milestone-7"',
    'for f in events.jsonl state.journal git-setup.json git-config-trusted.json report.md; do rm -f "$S/$f"; mkfifo "$S/$f"; done',
    'mkdir -p "$S/relay" "$S/items/3"',
    'mkfifo "$S/relay/wave-1.md" "$S/items/3/prompt-1.md" "$S/items/3/result-1.json"',
  ].join(' && ');
  const agent = `{ [ "$WM_ISSUE" != 1 ] || { ${plant}; }; } && ${COMMITTING_AGENT}`;
  const [one, two, three] = [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
    { issue: 3, title: 'Three' },
  ];
  const plan = planYaml({
    title: 'Pipes',
    waves: [{ items: [one, two] }, { items: [three] }],
    defaults: { agent: 'command', command: agent },
  });
  const repo = await makeRepo({ plan, items: [one, two, three] });
  try {
    // The limit only guards against a hung test: a runner stuck on a pipe never ends.
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push'], { timeoutMs: 200_000 });
    assert.is(r.code, 0, r.stderr);
    const landed = await git(repo.dir, 'ls-tree', '--name-only', 'main');
    for (const issue of [1, 2, 3]) assert.ok(landed.includes(`item-${issue}.txt`), `#${issue} landed`);
    for (const f of ['events.jsonl', 'report.md', 'relay/wave-1.md', 'items/3/prompt-1.md', 'items/3/result-1.json'])
      assert.ok(lstatSync(path.join(repo.stateDir, f)).isFile(), `${f} is a file again`);

    // A plan file an agent replaced by a pipe in the user's checkout: the next command says so.
    const planFile = path.join(repo.dir, 'plan', 'milestone-7-dispatch.yaml');
    rmSync(planFile);
    execFileSync('mkfifo', [planFile]);
    const p = await runCli('plan', ['7', '--repo', repo.dir], { timeoutMs: 60_000 });
    assert.is(p.code, 2);
    assert.is(p.stderr.trim(), 'plan/milestone-7-dispatch.yaml: the plan is not a regular file');
  } finally {
    repo.cleanup();
  }
});

test('an agent that removes the whole state folder: the runner writes it again from memory, the others land', async () => {
  const repo = await hostileMilestone({
    title: 'Gone',
    hostile: 'rm -rf "$(git rev-parse --path-format=absolute --git-common-dir)/work-milestone"',
    defaults: { retries: 0 },
  });
  try {
    const r = await runCli('run', ['7', '--repo', repo.dir, '--yes', '--no-push'], { timeoutMs: 200_000 });
    // Its own output files went with the folder: that attempt has no result; nothing else is lost.
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, '#1 failed: the agent process died without a result');
    assert.not.match(r.stderr, /internal error|ENOENT/);
    const state = readStateFile(repo);
    assert.is(state.items['1'].status, 'failed');
    assert.is(state.items['2'].status, 'complete');
    assert.ok((await git(repo.dir, 'ls-tree', '--name-only', 'main')).includes('item-2.txt'), 'the rest landed');
    assert.ok(
      readEvents(repo).some((e) => e.type === 'notice' && /run\.lock was removed or replaced/.test(e.message)),
      'the run lock was taken again',
    );
  } finally {
    repo.cleanup();
  }
});

test.run();
