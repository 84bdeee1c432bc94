/**
 * `plan --json` carries everything the tree shows (docs/status.md, "plan --json"): the schedule, each item's
 * depends-on, conflict group, priority, agent and model, the conflict groups, the gates and the defaults, beside the
 * graph's nodes and edges.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInProcess, show } from './support/cli.ts';
import { makeRepo, ROOT } from './support/fixture.ts';

const SEED = readFileSync(path.join(ROOT, 'test', 'fixtures', 'plans', 'seed-7.yaml'), 'utf8');

interface PlanJson {
  schedule: string;
  nodes: Array<{ id: string }>;
  edges: Array<{ from: string; to: string; kind: string }>;
  items: Array<{
    issue: number;
    wave: number;
    priority: string | null;
    dependsOn: number[];
    conflictGroup: string | null;
    agent: string;
    model: string;
    effort: string | null;
    timeoutMs: number;
    maxOutputBytes: number;
  }>;
  conflictGroups: Array<{ id: string; reason: string; items: string[] }>;
  gates: { preMerge: Array<{ name: string; run: string; files: string[] }>; postMerge: Array<{ name: string }> };
  defaults: { concurrency: number; model: string };
  differences: string[];
}

test('plan --json: schedule, items (depends-on, group, priority, agent, model), groups, gates, defaults', async () => {
  const items = [42, 43, 44, 45, 46, 47].map((issue) => ({ issue, title: `Item ${issue}` }));
  const repo = await makeRepo({ plan: SEED, items });
  try {
    const r = await runInProcess('plan', ['7', '--repo', repo.dir, '--json', '--schedule', 'dag']);
    assert.is(r.code, 0, show(r));
    const data = JSON.parse(r.stdout) as PlanJson;
    assert.is(data.schedule, 'dag');
    assert.ok(
      data.nodes.some((n) => n.id === 'merge@2#44'),
      'the dag graph',
    );
    assert.ok(
      data.edges.some((e) => e.from === 'merge@1#42' && e.to === 'worktrees@2#44'),
      'depends-on edge',
    );
    const ranking = data.items.find((i) => i.issue === 44);
    assert.equal(ranking, {
      issue: 44,
      title: 'Ranking',
      wave: 2,
      priority: 'P1',
      dependsOn: [42],
      conflictGroup: '1',
      agent: 'claude',
      model: 'opus',
      effort: 'high',
      timeoutMs: 3_600_000,
      maxOutputBytes: 1024 ** 3,
      retries: 1,
      planStatus: null,
    });
    assert.equal(
      data.items.map((i) => [i.issue, i.model, i.conflictGroup]),
      [
        [42, 'sonnet', '1'],
        [43, 'sonnet', null],
        [44, 'opus', '1'],
        [45, 'sonnet', null],
        [46, 'sonnet', '1'],
        [47, 'sonnet', '1'],
      ],
    );
    assert.equal(data.conflictGroups, [{ id: '1', reason: 'both touch src/search/', items: ['Tokenizer', 'Ranking'] }]);
    assert.equal(
      data.gates.preMerge.map((g) => [g.name, g.run, g.files]),
      [
        ['npm run lint', 'npm run lint', []],
        ['typecheck', 'npx tsc --noEmit', ['src/**/*.ts']],
      ],
    );
    assert.equal(
      data.gates.postMerge.map((g) => g.name),
      ['npm test'],
    );
    assert.is(data.defaults.concurrency, 3);
    assert.equal(data.differences, []);
    const waves = await runInProcess('plan', ['7', '--repo', repo.dir, '--json']);
    assert.is((JSON.parse(waves.stdout) as PlanJson).schedule, 'waves');
  } finally {
    repo.cleanup();
  }
});

test.run();
