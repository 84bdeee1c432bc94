/**
 * The seed's example plan as its groomer writes it (`status: pending` on every item, conflict groups by title, a
 * serial third wave) validates, and lands with the file backlog and `command` agents; afterwards `plan` says where
 * the plan's `status` keys and the runner's state differ.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, git, makeRepo, planOnlyRepo, runCli, type CliResult } from './support/fixture.ts';

const SEED = readFileSync(path.join(import.meta.dirname, 'fixtures', 'plans', 'seed-plan-example.yaml'), 'utf8');
const ISSUES = [
  { issue: 42, title: 'Add auth middleware' },
  { issue: 45, title: 'Plugin docs update' },
  { issue: 38, title: 'SAM error recovery' },
  { issue: 39, title: 'Backlog MCP validation' },
  { issue: 50, title: 'Rule consolidation' },
  { issue: 51, title: 'Linting exceptions update' },
];

const output = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;

/** The seed's plan with its quality gates replaced (they need the seed project's tools) and command agents. */
function runnablePlan(): string {
  const at = SEED.indexOf('quality-gates:');
  assert.ok(at > 0, 'the seed plan has quality gates');
  return `${SEED.slice(0, at)}quality-gates:
  pre-merge: ["test -f README.md"]
  post-merge: ["test -f item-51.txt"]
defaults: {agent: command, retries: 0, timeout: 30s, command: ${JSON.stringify(COMMITTING_AGENT)}}
`;
}

test('the seed example plan validates as written: status keys, conflict groups by title, a serial wave', async () => {
  const dir = await planOnlyRepo(SEED.replace('number: 3', 'number: 7'));
  try {
    const result = await runCli('plan', ['7', '--repo', dir]);
    assert.is(result.code, 0, output(result));
    assert.match(result.stdout, 'Linting exceptions update');
    assert.not.match(result.stdout, 'differs', 'nothing ran: pending everywhere is what the state says');
  } finally {
    rmSync(path.dirname(dir), { recursive: true, force: true });
  }
});

test('the seed example plan lands with the file backlog and command agents; plan shows the status it no longer matches', async () => {
  const repo = await makeRepo({ milestone: 3, plan: runnablePlan(), items: ISSUES, origin: true });
  try {
    const result = await runCli('run', ['3', '--repo', repo.dir]);
    assert.is(result.code, 0, output(result));
    const main = await git(repo.origin ?? '', 'ls-tree', '--name-only', 'main');
    for (const { issue } of ISSUES) assert.match(main, `item-${issue}.txt`);
    assert.match(result.stdout + result.stderr, 'Completed 6/6 (100%)');
    const plan = await runCli('plan', ['3', '--repo', repo.dir]);
    assert.is(plan.code, 0, output(plan));
    assert.match(plan.stdout, "status in the plan differs from the runner's state");
    assert.match(plan.stdout, "#51: the plan says pending, the runner's state says complete");
  } finally {
    repo.cleanup();
  }
});

test.run();
