/**
 * Plan diagnostics (docs/plan-format.md): every broken fixture gives exactly its golden message; valid plans normalise
 * right.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { DiagnosticsError } from '../tasks/lib/diagnostics.ts';
import { parseDuration } from '../tasks/lib/duration.ts';
import { BadInputError } from '../tasks/lib/errors.ts';
import { parsePlan, parsePlanIn } from '../tasks/lib/plan/load-plan.ts';
import { findItem, type Plan } from '../tasks/lib/plan/types.ts';
import { planOnlyRepo } from './support/fixture.ts';

/** The path the golden messages show: what `scripts/plan.mts 7` prints for the default plan file. */
const PLAN_PATH = 'plan/milestone-7-dispatch.yaml';
const brokenDir = fileURLToPath(new URL('./fixtures/broken-plans/', import.meta.url));
const plansDir = fileURLToPath(new URL('./fixtures/plans/', import.meta.url));

const golden = JSON.parse(readFileSync(`${brokenDir}expected.json`, 'utf8')) as Record<string, string>;
const brokenFiles = readdirSync(brokenDir)
  .filter((n) => n.endsWith('.yaml'))
  .sort();
const validFiles = readdirSync(plansDir)
  .filter((n) => n.endsWith('.yaml'))
  .sort();

/**
 * The repository the golden messages are for, as test/plan-cli.test.ts makes it: a README and the plan, committed.
 * Some checks need it (a worktree root that holds tracked files); the rest give the same message without it.
 */
const RIG = await planOnlyRepo(readFileSync(`${plansDir}seed-7.yaml`), 'wm-plan-diagnostics-');
test.after(() => rmSync(path.dirname(RIG), { recursive: true, force: true }));

/** Fixtures only the repository can tell are broken (their worktree root holds tracked files). */
const NEEDS_REPOSITORY = ['worktree-root-plan.yaml', 'worktree-root-tracked-file.yaml'];

/** The error `parse` throws for `source`, or a failure when it parses. */
async function parseError(
  source: string,
  parse: (source: string) => unknown = (text) => parsePlanIn(RIG, text, PLAN_PATH),
): Promise<unknown> {
  try {
    await parse(source);
  } catch (error) {
    return error;
  }
  assert.unreachable('the plan parsed, but it is broken');
  return undefined;
}

for (const name of brokenFiles) {
  test(`broken plan ${name}`, async () => {
    const expected = golden[name];
    assert.type(expected, 'string', `${name} has no entry in expected.json`);
    const source = readFileSync(`${brokenDir}${name}`, 'utf8');
    const error = await parseError(source);
    assert.instance(error, DiagnosticsError, `not a DiagnosticsError: ${String(error)}`);
    const e = error as DiagnosticsError;
    assert.is(e.message, expected);
    assert.is(e.exitCode, 2);
    assert.ok(e.diagnostics.length > 0);
    // The pure parser (no repository) says the same, or nothing when only the repository can tell.
    if (NEEDS_REPOSITORY.includes(name)) parsePlan(source, PLAN_PATH);
    else assert.is(((await parseError(source, (text) => parsePlan(text, PLAN_PATH))) as Error).message, expected);
  });
}

test('every broken fixture has a golden message, and every golden message a fixture', () => {
  assert.equal(Object.keys(golden).sort(), brokenFiles);
  assert.ok(brokenFiles.length >= 30, `only ${brokenFiles.length} broken fixtures`);
});

test('golden messages are file:line:col error: lines, sorted by position', () => {
  for (const [name, text] of Object.entries(golden)) {
    const positions = text.split('\n').map((line) => {
      const m = /^plan\/milestone-7-dispatch\.yaml:(\d+):(\d+) error: \S/.exec(line);
      assert.ok(m, `${name}: malformed line ${JSON.stringify(line)}`);
      return [Number(m![1]), Number(m![2])] as const;
    });
    for (let i = 1; i < positions.length; i++) {
      const [a, b] = [positions[i - 1]!, positions[i]!];
      assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]), `${name}: not sorted by position`);
    }
  }
});

test('every valid plan in fixtures/plans parses', () => {
  assert.ok(validFiles.includes('seed-7.yaml'));
  assert.ok(validFiles.includes('conflict-group-twice-serial.yaml'));
  assert.ok(validFiles.includes('edge-values.yaml'));
  for (const name of validFiles) {
    try {
      parsePlan(readFileSync(`${plansDir}${name}`, 'utf8'), `test/fixtures/plans/${name}`);
    } catch (error) {
      assert.unreachable(`${name} does not parse:\n${(error as Error).message}`);
    }
  }
});

test('a parallel: false wave may hold two items of one conflict group', () => {
  const plan = parsePlan(readFileSync(`${plansDir}conflict-group-twice-serial.yaml`, 'utf8'), PLAN_PATH);
  assert.is(plan.waves.length, 1);
  assert.is(plan.waves[0]!.parallel, false);
  assert.equal(
    plan.waves[0]!.items.map((i) => [i.issue, i.conflictGroup]),
    [
      [42, 'search'],
      [44, 'search'],
    ],
  );
});

/** A plan that uses every two-word key, kebab-case as the groomer writes it. */
const KEBAB_PLAN = `# yaml-language-server: $schema=../../../schema/dispatch-plan.schema.json
milestone:
  number: 7
  title: "v1.1 — Search improvements"
  integration-branch: milestone/7-v1.1-search-improvements
groomed: true
conflict-groups:
  - {group-id: 1, reason: "both touch src/search/", items: ["Tokenizer", "Ranking"]}
waves:
  - wave: 1
    parallel: true
    items:
      - {issue: 42, title: "Tokenizer", priority: P0, conflict-group: 1, depends-on: []}
      - {issue: 43, title: "CLI flags", priority: P1, conflict-group: null, depends-on: [],
         permission-mode: default, allowed-tools: [Bash, Edit], max-budget-usd: 2.5, agent-args: ["--verbose"]}
  - wave: 2
    parallel: true
    items:
      - {issue: 44, title: "Ranking", priority: P1, conflict-group: 1, depends-on: [42],
         model: opus, effort: high, timeout: 60m}
quality-gates:
  pre-merge: ["npm run lint", {name: typecheck, run: "npx tsc --noEmit", files: ["src/**/*.ts"], timeout: 10m}]
  post-merge: ["npm test"]
defaults:
  agent: claude
  model: sonnet
  effort: medium
  timeout: 45m
  retries: 1
  concurrency: 3
  permission-mode: auto
  allowed-tools: [Read]
  max-budget-usd: 5
  agent-args: ["--debug"]
  max-fix-attempts: 3
  prompt-template: plan/prompt.md
  worktree-root: ../repo.worktrees
  gate-timeout: 2m
`;

/** Every `a-b-c:` key (not values, not comments) to `a_b_c:`. */
function toSnakeKeys(source: string): string {
  return source
    .split('\n')
    .map((line) =>
      line.startsWith('#')
        ? line
        : line.replace(/(?<=^|[\s{,])([a-z]+(?:-[a-z]+)+)(?=:(?: |$))/g, (k) => k.replace(/-/g, '_')),
    )
    .join('\n');
}

function withoutFileAndHash(plan: Plan): Omit<Plan, 'file' | 'hash'> {
  const { file: _file, hash: _hash, ...rest } = plan;
  return rest;
}

test('kebab-case and snake_case spellings of one plan give the same Plan', () => {
  const snake = toSnakeKeys(KEBAB_PLAN);
  // The conversion did what it should: every two-word key is snake_case, values are untouched.
  for (const key of [
    'integration_branch',
    'conflict_groups',
    'group_id',
    'conflict_group',
    'depends_on',
    'quality_gates',
    'pre_merge',
    'post_merge',
    'permission_mode',
    'allowed_tools',
    'max_budget_usd',
    'agent_args',
    'max_fix_attempts',
    'prompt_template',
    'worktree_root',
    'gate_timeout',
  ]) {
    assert.ok(snake.includes(`${key}:`), `snake plan lacks ${key}`);
  }
  assert.not.match(snake.replace(/^#.*$/gm, ''), /(?:^|[\s{,])[a-z]+(?:-[a-z]+)+:(?: |$)/m);
  assert.ok(snake.includes('milestone/7-v1.1-search-improvements'));
  assert.ok(snake.includes('"--verbose"'));

  const kebabPlan = parsePlan(KEBAB_PLAN, 'kebab.yaml');
  const snakePlan = parsePlan(snake, 'snake.yaml');
  assert.equal(withoutFileAndHash(snakePlan), withoutFileAndHash(kebabPlan));
  assert.is.not(snakePlan.hash, kebabPlan.hash);

  // The two-word keys were read, not silently dropped.
  assert.is(kebabPlan.milestone.integrationBranch, 'milestone/7-v1.1-search-improvements');
  assert.equal(kebabPlan.conflictGroups, [
    { id: '1', reason: 'both touch src/search/', items: ['Tokenizer', 'Ranking'] },
  ]);
  assert.is(findItem(kebabPlan, 44)!.conflictGroup, '1');
  assert.equal(findItem(kebabPlan, 44)!.dependsOn, [42]);
  assert.equal(
    kebabPlan.gates.preMerge.map((g) => [g.name, g.run, g.timeoutMs]),
    [
      ['npm run lint', 'npm run lint', 120_000],
      ['typecheck', 'npx tsc --noEmit', 600_000],
    ],
  );
  assert.equal(
    kebabPlan.gates.postMerge.map((g) => g.run),
    ['npm test'],
  );
  const d = kebabPlan.defaults;
  assert.equal(
    [
      d.permissionMode,
      d.allowedTools,
      d.maxBudgetUsd,
      d.agentArgs,
      d.maxFixAttempts,
      d.promptTemplate,
      d.worktreeRoot,
      d.gateTimeoutMs,
    ],
    ['auto', ['Read'], 5, ['--debug'], 3, 'plan/prompt.md', '../repo.worktrees', 120_000],
  );
  const s43 = findItem(kebabPlan, 43)!.settings;
  assert.equal(
    [s43.permissionMode, s43.allowedTools, s43.maxBudgetUsd, s43.agentArgs],
    ['default', ['Bash', 'Edit'], 2.5, ['--verbose']],
  );
});

test('seed-7: slug, branch, defaults and per-item overrides', () => {
  const source = readFileSync(`${plansDir}seed-7.yaml`, 'utf8');
  const plan = parsePlan(source, PLAN_PATH);
  assert.is(plan.file, PLAN_PATH);
  assert.match(plan.hash, /^[0-9a-f]{64}$/);
  assert.equal(plan.milestone, {
    id: '7',
    title: 'v1.1 — Search improvements',
    slug: 'v1.1-search-improvements',
    integrationBranch: 'milestone/7-v1.1-search-improvements',
  });
  assert.equal(
    plan.waves.map((w) => [w.wave, w.parallel, w.items.map((i) => i.issue)]),
    [
      [1, true, [42, 43]],
      [2, true, [44, 45]],
      [3, false, [46, 47]],
    ],
  );
  assert.is(plan.defaults.concurrency, 3);
  assert.is(plan.defaults.retries, 1);
  assert.is(plan.defaults.timeoutMs, 2_700_000);
  assert.is(plan.defaults.gateTimeoutMs, 300_000);
  assert.ok([...plan.gates.preMerge, ...plan.gates.postMerge].every((g) => g.timeoutMs === 300_000));
  assert.equal(plan.gates.preMerge[1], {
    name: 'typecheck',
    run: 'npx tsc --noEmit',
    files: ['src/**/*.ts'],
    timeoutMs: 300_000,
    maxOutputBytes: 1024 ** 3,
  });

  // Item 44 overrides model, effort and timeout; the others inherit the defaults.
  const ranking = findItem(plan, 44)!;
  assert.equal(
    [ranking.settings.model, ranking.settings.effort, ranking.settings.timeoutMs],
    ['opus', 'high', 3_600_000],
  );
  assert.is(ranking.settings.retries, 1);
  assert.equal(ranking.dependsOn, [42]);
  const tokenizer = findItem(plan, 42)!;
  assert.equal(
    [tokenizer.settings.model, tokenizer.settings.effort, tokenizer.settings.timeoutMs],
    ['sonnet', 'medium', 2_700_000],
  );
  assert.is(tokenizer.conflictGroup, '1');
  assert.is(findItem(plan, 43)!.conflictGroup, null);
  assert.is(findItem(plan, 45)!.conflictGroup, null);
  assert.equal(findItem(plan, 45)!.dependsOn, [43]);

  // The same plan as the parser sees it in another file: only `file` differs.
  const again = parsePlan(source, 'elsewhere.yaml');
  assert.is(again.hash, plan.hash);
  assert.equal(withoutFileAndHash(again), withoutFileAndHash(plan));
});

test('a plan without defaults gets the built-in ones', () => {
  const plan = parsePlan(
    'milestone: {number: 7, title: "v1.1 — Search improvements"}\nwaves:\n  - wave: 1\n    items:\n      - {issue: 42, title: "Tokenizer", retries: 3, timeout: 90}\n      - {issue: 43, title: "CLI flags"}\nquality-gates: {post-merge: ["npm test"]}\n',
    PLAN_PATH,
  );
  assert.is(plan.milestone.integrationBranch, 'milestone/7-v1.1-search-improvements');
  assert.is(plan.defaults.concurrency, 3);
  assert.is(plan.defaults.retries, 1);
  assert.is(plan.defaults.timeoutMs, 2_700_000);
  assert.is(plan.defaults.gateTimeoutMs, 300_000);
  assert.is(plan.defaults.agent, 'claude');
  assert.is(plan.gates.postMerge[0]!.timeoutMs, 300_000);
  assert.is(plan.waves[0]!.parallel, true);
  const [first, second] = plan.waves[0]!.items;
  assert.equal([first!.settings.retries, first!.settings.timeoutMs], [3, 90_000]);
  assert.equal([second!.settings.retries, second!.settings.timeoutMs], [1, 2_700_000]);
  assert.equal(second!.dependsOn, []);
});

test('no broken plan makes Node print a warning (a list key used to)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    for (const name of brokenFiles) await parseError(readFileSync(`${brokenDir}${name}`, 'utf8'));
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(warnings, []);
});

test('edge values: BOM, string id, durations at their limits, a shared anchor, the largest issue number', () => {
  const source = readFileSync(`${plansDir}edge-values.yaml`, 'utf8');
  assert.is(source.charCodeAt(0), 0xfeff);
  const plan = parsePlan(source, PLAN_PATH);
  assert.equal(plan.milestone, { id: 'v1.1-beta', title: '🚀', slug: '', integrationBranch: 'release/v1.1-beta' });
  assert.equal(plan.backlog, { kind: 'github', repo: 'acme/search' });
  assert.equal(
    plan.waves.flatMap((w) => w.items.map((i) => [i.issue, i.settings.timeoutMs])),
    [
      [42, 86_400_000],
      [43, 86_400_000],
      [44, 1],
      [Number.MAX_SAFE_INTEGER, 86_400_000],
    ],
  );
  assert.equal(
    [plan.defaults.timeoutMs, plan.defaults.gateTimeoutMs, plan.gates.postMerge[0]!.timeoutMs],
    [86_400_000, 1000, 86_400_000],
  );
  // An emoji-only title has no slug: the derived branch is milestone/<id>.
  assert.is(
    parsePlan(source.replace(/^ {2}integration-branch:.*$/m, ''), PLAN_PATH).milestone.integrationBranch,
    'milestone/v1.1-beta',
  );
});

test('parseDuration: units, limits, and bad input is exit 2', () => {
  assert.equal(
    [parseDuration(90), parseDuration('90'), parseDuration('500ms'), parseDuration('45m'), parseDuration('24h')],
    [90_000, 90_000, 500, 2_700_000, 86_400_000],
  );
  for (const bad of [0, '0', '0m', '0s', -1, 1.5, '45 minutes', '', '1d', '25h', 86_401, '2147483648ms']) {
    try {
      parseDuration(bad);
      assert.unreachable(`${JSON.stringify(bad)} was accepted`);
    } catch (error) {
      assert.instance(error, BadInputError, `${JSON.stringify(bad)}: ${String(error)}`);
    }
  }
});

/** Every path to a value in `node`. */
function pathsOf(node: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (!node || typeof node !== 'object') return [path];
  const entries = Array.isArray(node) ? node.map((v, i) => [i, v] as const) : Object.entries(node);
  return [path, ...entries.flatMap(([k, v]) => pathsOf(v, [...path, k]))];
}

test('a plan with any one value of the wrong shape gives diagnostics (exit 2), never a crash', () => {
  const seed = parse(readFileSync(`${plansDir}seed-7.yaml`, 'utf8')) as Record<string, unknown>;
  const values: unknown[] = [null, -1, 'x', {}, [{}], 2 ** 60];
  let count = 0;
  for (const path of pathsOf(seed).filter((p) => p.length > 0)) {
    for (const value of values) {
      const copy = structuredClone(seed);
      let parent = copy as Record<string | number, unknown>;
      for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
      parent[path[path.length - 1]!] = value;
      try {
        parsePlan(stringify(copy), PLAN_PATH);
      } catch (error) {
        assert.instance(
          error,
          DiagnosticsError,
          `${path.join('.')} = ${JSON.stringify(value)}: ${(error as Error).stack}`,
        );
        count++;
      }
    }
  }
  assert.ok(count > 250, `only ${count} mutations were rejected`);
});

test.run();
