/**
 * state.json of a 500-item milestone, built through the caps (docs/limits.md): every item judged by judgeAttempt
 * from its agent's output, relays recorded as relay.ts records them, written as tasks/lib/state.ts writes it and
 * read back through its schema check.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentOutcome } from '../tasks/agents/types.ts';
import { judgeAttempt, type BranchFacts } from '../tasks/items/item-result.ts';
import { LIMITS } from '../tasks/lib/bounded-text.ts';
import { BUILTIN_SETTINGS } from '../tasks/lib/plan/load-plan.ts';
import type { PlanWave } from '../tasks/lib/plan/types.ts';
import { formatState, readState } from '../tasks/lib/state.ts';
import { emptyItem, emptyState, type ItemState, type State } from '../tasks/lib/state-types.ts';
import { formatRelay } from '../tasks/reporting/relay-text.ts';
import { relayDigest } from '../tasks/steps/relay.ts';
import { tempDir } from './support/fixture.ts';

const ITEMS = 500;
const WAVES = 5;
const sha = (n: number, salt: number) => (n * 7919 + salt).toString(16).padStart(40, '0');
/** A plausible claude usage object (docs/claude-cli.md). */
const USAGE = {
  input_tokens: 4000,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 12000,
  output_tokens: 200,
  server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
  service_tier: 'standard',
};

/** What one agent printed and what git says, for item `issue`. */
type Agent = (issue: number) => { readonly text: string; readonly facts: BranchFacts };

const typical: Agent = (issue) => {
  const files = [`src/feature-${issue}.ts`, `test/feature-${issue}.test.ts`, 'CHANGELOG.md'];
  const commits = [`feat: feature ${issue}`, `test: feature ${issue}`];
  return {
    text: [
      'All done.',
      'STATUS: COMPLETE',
      `BRANCH: work/7-${issue}-feature-${issue}`,
      'FILES_CHANGED:',
      ...files.map((f) => `- ${f}`),
      'COMMITS:',
      ...commits.map((c, i) => `- ${sha(issue, i).slice(0, 7)} ${c}`),
      'TASKS_BLOCKED: none',
      `NOTES: Added feature ${issue} behind a flag; the parser now accepts the new token. ${'Kept the old API for the next wave. '.repeat(6)}`,
    ].join('\n'),
    facts: facts(issue, commits, files),
  };
};

const hostile: Agent = (issue) => {
  const files = Array.from({ length: 3000 }, (_, i) => `src/generated/deeply/nested/folder/module-${issue}-${i}.ts`);
  const commits = Array.from(
    { length: 3000 },
    (_, i) => `chore: step ${i} of a very long refactoring that never seems to end (#${issue})`,
  );
  return {
    text: [
      'STATUS: COMPLETE',
      `BRANCH: work/7-${issue}-x`,
      'FILES_CHANGED:',
      ...files,
      'COMMITS:',
      ...commits,
      `TASKS_BLOCKED: ${Array.from({ length: 500 }, (_, i) => `task-${i}`).join(', ')}`,
      `NOTES: \u0000${'notes '.repeat(40_000)}`,
    ].join('\n'),
    facts: facts(issue, commits, files),
  };
};

function facts(issue: number, subjects: readonly string[], files: readonly string[]): BranchFacts {
  return {
    commits: subjects.slice(0, LIMITS.gitEntries).map((subject, i) => ({ sha: sha(issue, i), subject })),
    commitCount: subjects.length,
    files: files.slice(0, LIMITS.gitEntries),
    fileCount: files.length,
    uncommitted: [],
    headBranch: `work/7-${issue}-x`,
    worktreeExists: true,
    base: sha(0, 1),
    tip: sha(issue, 99),
    missing: [],
  };
}

/** The state of a landed 500-item milestone whose agents are `agent`. */
function milestoneState(agent: Agent, stateDir: string): State {
  const state = emptyState('7') as { -readonly [K in keyof State]: State[K] };
  const items: Record<string, ItemState> = {};
  const cache: Record<string, State['cache'][string]> = {};
  const waves: PlanWave[] = [];
  for (let issue = 1; issue <= ITEMS; issue++) {
    const wave = 1 + ((issue - 1) % WAVES);
    const branch = `work/7-${issue}-feature-${issue}`;
    const { text, facts: f } = agent(issue);
    const out: AgentOutcome = {
      ok: true,
      text,
      failure: null,
      costUsd: 0.42,
      turns: 17,
      sessionId: `5864ec0e-150f-46c0-8271-${String(issue).padStart(12, '0')}`,
      usage: USAGE,
      denials: [],
      outputFile: path.join(stateDir, 'items', String(issue), 'item-1.stdout'),
    };
    const verdict = judgeAttempt(out, { ...f, headBranch: branch }, branch);
    items[String(issue)] = {
      ...emptyItem(issue, wave),
      status: verdict.status,
      attempts: 1,
      branch,
      worktree: `/home/user/projects/repo/worktrees/7-${issue}-feature-${issue}`,
      base: sha(0, 1),
      failure: verdict.failure,
      result: { ...verdict.result, durationMs: 123_456 },
      finishedAt: '2026-11-30T20:15:10.601Z',
      finishSeq: issue,
      merge: { kind: 'clean', sha: sha(issue, 5), files: [], note: '', followUp: null },
      pinned: f.tip,
    };
    cache[String(issue)] = {
      issue,
      title: `Feature ${issue}`,
      source: `plan/backlog/${issue}.md`,
      sections: { Description: `Add feature ${issue}.`, 'Acceptance Criteria': '- it works' },
      body: `## Description\nAdd feature ${issue}.\n\n## Acceptance Criteria\n- it works\n`,
    };
    const w = waves[wave - 1] ?? { wave, parallel: true, items: [] };
    waves[wave - 1] = {
      ...w,
      items: [
        ...w.items,
        {
          issue,
          title: `Feature ${issue}`,
          slug: `feature-${issue}`,
          wave,
          priority: null,
          conflictGroup: null,
          dependsOn: [],
          settings: BUILTIN_SETTINGS,
          edits: [],
        },
      ],
    };
  }
  state.items = items;
  state.cache = cache;
  state.seq = ITEMS;
  state.relays = Object.fromEntries(waves.map((w) => [String(w.wave), relayDigest(formatRelay(w, items))]));
  return state;
}

/**
 * Bytes of state.json as tasks/lib/state.ts writes it, and indented for comparison; read back through the schema check.
 */
async function stateBytes(agent: Agent): Promise<{ indented: number; compact: number }> {
  const dir = tempDir();
  try {
    const state = milestoneState(agent, dir);
    const text = formatState(state);
    writeFileSync(path.join(dir, 'state.json'), text);
    assert.is((await readState(dir, '7')).seq, ITEMS, 'the schema accepts it');
    assert.not.match(text, /\\u0000/, 'no NUL in state.json');
    return { indented: Buffer.byteLength(JSON.stringify(state, null, 2)), compact: Buffer.byteLength(text) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const show = (name: string, b: { indented: number; compact: number }) =>
  console.log(
    `    ${name}: state.json ${b.compact} bytes as written (${Math.round(b.compact / ITEMS)} per item), ${b.indented} indented`,
  );

// Measured: 0.89 MB as written, 1.34 MB if it were indented. Most of it is what every item has whatever its agent
// says (paths, shas, dates, the cached backlog item), not the report.
test('500 items with typical reports: state.json under 1 MB as written', async () => {
  const b = await stateBytes(typical);
  show('typical', b);
  assert.ok(b.compact < 1_000_000, `${b.compact} bytes`);
});

// Without the caps each such item kept ~0.5 MB (notes, 3000 files twice, 3000 commits twice): 250 MB in all.
test('500 items whose every agent reports 3000 files and commits and 240 KB of NOTES: each item within 16 KB', async () => {
  const b = await stateBytes(hostile);
  show('hostile', b);
  assert.ok(b.compact / ITEMS < 16_000, `${b.compact / ITEMS} bytes per item`);
});

test.run();
