/**
 * Several milestones of one repository at once, through the real CLI: milestones 7 and 8 run side by side, each with
 * a PARTIAL item (so each creates a follow-up backlog item in its own integration worktree); both land on main and
 * origin, the follow-ups get distinct numbers, and the user's checkout is left clean with no merge in progress.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseItemFile } from '../tasks/backlog/front-matter.ts';
import { issueNumbersFile } from '../tasks/backlog/issue-numbers.ts';
import {
  git,
  itemMarkdown,
  makeRepo,
  readStateFile,
  runCli,
  showFile,
  tempDir,
  writeAgent,
  type CliResult,
  type TestRepo,
} from './support/fixture.ts';
import { commandDefaults, planYaml } from './support/plan.ts';

interface Milestone {
  readonly id: number;
  readonly title: string;
  readonly items: ReadonlyArray<{ readonly issue: number; readonly title: string; readonly file: string }>;
  /** The item that reports PARTIAL. */
  readonly partial: number;
}

const MILESTONES: readonly Milestone[] = [
  {
    id: 7,
    title: 'First',
    items: [
      { issue: 1, title: 'Alpha', file: 'a.txt' },
      { issue: 2, title: 'Beta', file: 'b.txt' },
    ],
    partial: 2,
  },
  {
    id: 8,
    title: 'Second',
    items: [
      { issue: 3, title: 'Gamma', file: 'c.txt' },
      { issue: 4, title: 'Delta', file: 'd.txt' },
    ],
    partial: 4,
  },
];
const ALL_ITEMS = MILESTONES.flatMap((m) => m.items);
const PARTIALS = new Set(MILESTONES.map((m) => m.partial));

/** Every item writes its own file and commits; the PARTIAL ones say what is left. */
const AGENT = `case "$WM_ROLE:$WM_ISSUE" in
${ALL_ITEMS.map(
  (i) =>
    `item:${i.issue}) echo ${i.title} > ${i.file}; commit "${i.title}"; ${
      PARTIALS.has(i.issue)
        ? `printf 'STATUS: PARTIAL\\nBRANCH: %s\\nTASKS_BLOCKED: the rest of ${i.title}\\nNOTES: half of ${i.title}\\n' "$WM_BRANCH"`
        : `report COMPLETE "${i.title} done"`
    };;`,
).join('\n')}
*) exit 9;;
esac`;

function planOf(m: Milestone, command: string): string {
  return planYaml({
    milestone: m.id,
    title: m.title,
    waves: [{ parallel: false, items: m.items }],
    defaults: commandDefaults(command, { timeout: '60s' }),
  });
}

/** The repository: milestone 7 from makeRepo, milestone 8's plan and items committed on top and pushed. */
async function rig(command: string): Promise<TestRepo> {
  const [first, second] = MILESTONES as [Milestone, Milestone];
  const repo = await makeRepo({ milestone: first.id, plan: planOf(first, command), items: first.items, origin: true });
  writeFileSync(path.join(repo.dir, 'plan', `milestone-${second.id}-dispatch.yaml`), planOf(second, command));
  for (const item of second.items)
    writeFileSync(path.join(repo.dir, 'plan', 'backlog', `${item.issue}.md`), itemMarkdown(second.id, item));
  await git(repo.dir, 'add', '-A');
  await git(repo.dir, 'commit', '-q', '-m', `plan milestone ${second.id}`);
  await git(repo.dir, 'push', '-q', 'origin', 'main');
  return repo;
}

const output = (m: Milestone, r: CliResult) =>
  `run ${m.id}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n${r.stdout}\n${r.stderr}`;
const runMilestone = (repo: TestRepo, m: Milestone) =>
  runCli('run', [String(m.id), '--repo', repo.dir, '--yes'], { timeoutMs: 240_000 });
const stateOf = (repo: TestRepo, m: Milestone) =>
  readStateFile({ ...repo, stateDir: path.join(repo.dir, '.git', 'work-milestone', `milestone-${m.id}`) });

/** 0, or 3 with a message that says what to do: the only endings a run racing another milestone may have. */
function assertAcceptable(m: Milestone, r: CliResult): void {
  assert.ok(r.code === 0 || r.code === 3, output(m, r));
  if (r.code === 3) assert.match(r.stderr, /run again/, output(m, r));
}

test('milestones 7 and 8 run at once: both land within two runs each, follow-ups numbered apart, the checkout clean', async () => {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(tools, AGENT);
  const repo = await rig(agent.command);
  try {
    // Started together; no ordering between the two is assumed.
    const first = await Promise.all(MILESTONES.map((m) => runMilestone(repo, m)));
    const log: string[] = [];
    for (const [i, m] of MILESTONES.entries()) {
      const r = first[i] as CliResult;
      log.push(output(m, r));
      assertAcceptable(m, r);
      if (r.code === 0) continue;
      const again = await runMilestone(repo, m);
      log.push(output(m, again));
      assert.is(again.code, 0, log.join('\n'));
    }
    const all = log.join('\n');

    // Every item's change is on main and on origin's main, which is main.
    const main = await git(repo.dir, 'rev-parse', 'main');
    assert.is(await git(repo.origin as string, 'rev-parse', 'main'), main, all);
    const onMain = (await git(repo.dir, 'ls-tree', '--name-only', 'main')).split('\n');
    for (const item of ALL_ITEMS) {
      assert.ok(onMain.includes(item.file), `${item.file} is not on main (${onMain.join(' ')})\n${all}`);
      assert.is(await showFile(repo.dir, 'main', item.file), `${item.title}\n`);
    }
    for (const m of MILESTONES) {
      const st = stateOf(repo, m);
      assert.ok(st.land?.pushed, `milestone ${m.id} landed and pushed\n${all}`);
      for (const item of m.items)
        assert.is(st.items[String(item.issue)].status, PARTIALS.has(item.issue) ? 'partial' : 'complete', all);
    }

    // The backlog on main: the four items (done) and one follow-up per milestone, each with its own number and
    // milestone.
    const names = (await git(repo.dir, 'ls-tree', '--name-only', 'main', 'plan/backlog/'))
      .split('\n')
      .map((f) => path.basename(f));
    const numbers = names.map((n) => parseInt(n, 10)).sort((x, y) => x - y);
    assert.is(numbers.length, ALL_ITEMS.length + MILESTONES.length, names.join(' '));
    const followUps = new Map<number, number>();
    for (const m of MILESTONES) {
      const made: number[] = stateOf(repo, m).items[String(m.partial)].followUps;
      assert.is(made.length, 1, `milestone ${m.id}: ${JSON.stringify(made)}`);
      followUps.set(m.id, made[0] as number);
    }
    assert.is(
      new Set(followUps.values()).size,
      MILESTONES.length,
      `follow-up numbers ${JSON.stringify([...followUps])}`,
    );
    for (const m of MILESTONES) {
      const issue = followUps.get(m.id) as number;
      assert.not.ok(
        ALL_ITEMS.some((i) => i.issue === issue),
        `follow-up #${issue} reuses an item's number`,
      );
      const parsed = parseItemFile(await showFile(repo.dir, 'main', `plan/backlog/${issue}.md`), issue);
      if (!parsed.ok) throw new Error(`plan/backlog/${issue}.md: ${JSON.stringify(parsed.problems)}`);
      const partial = m.items.find((i) => i.issue === m.partial);
      assert.is(parsed.file.data.title, `Finish #${m.partial}: ${partial?.title}`);
      assert.is(parsed.file.data.milestone, m.id, `follow-up #${issue} names milestone ${m.id}`);
      assert.is(parsed.file.data.status, 'open');
    }
    assert.equal(
      numbers,
      [...ALL_ITEMS.map((i) => i.issue), ...followUps.values()].sort((x, y) => x - y),
      names.join(' '),
    );
    for (const item of ALL_ITEMS) {
      const parsed = parseItemFile(await showFile(repo.dir, 'main', `plan/backlog/${item.issue}.md`), item.issue);
      assert.ok(parsed.ok && parsed.file.data.status === 'done', `#${item.issue} done on main`);
    }
    assert.ok(
      existsSync(issueNumbersFile(path.join(repo.dir, '.git'))),
      'numbers were handed out by the repository-wide allocator',
    );

    // The user's checkout: still on main, clean, no merge in progress.
    assert.is(await git(repo.dir, 'symbolic-ref', '--short', 'HEAD'), 'main');
    assert.is(await git(repo.dir, 'status', '--porcelain', '--untracked-files=all'), '', all);
    assert.not.ok(existsSync(path.join(repo.dir, '.git', 'MERGE_HEAD')), 'a merge is in progress in the checkout');
  } finally {
    repo.cleanup();
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
