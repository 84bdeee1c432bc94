/** A one-wave milestone 7 whose items are run by a `command` agent script (see `writeAgent`), in a fresh repository. */
import { rmSync } from 'node:fs';
import { makeRepo, tempDir, writeAgent, type AgentScript, type ItemSpec, type TestRepo } from './fixture.ts';

/** Two items, Alpha and Beta. */
export const ITEMS = [
  { issue: 1, title: 'Alpha' },
  { issue: 2, title: 'Beta' },
];

/** An agent body (`writeAgent`) whose items write `a.txt` / `b.txt` and commit; other roles do nothing. */
export const ITEM_AGENT = `case "$WM_ROLE:$WM_ISSUE" in
item:1) echo alpha > a.txt; commit alpha; report COMPLETE;;
item:2) echo beta > b.txt; commit beta; report COMPLETE;;
esac`;

/** The repository, the agent script and the folder it keeps its counters and logs in (outside the repository). */
export interface AgentRig {
  readonly repo: TestRepo;
  readonly agent: AgentScript;
  readonly tools: string;
  cleanup(): void;
}

/** What the milestone looks like. */
export interface AgentRigSpec {
  /** The milestone title (the integration branch is `milestone/7-<slug of it>`). */
  readonly title: string;
  readonly items: readonly ItemSpec[];
  /** The agent script's body (`writeAgent`). */
  readonly body: string;
  /** The plan's `quality-gates:` block, without its key. */
  readonly gates?: string;
  /** More `defaults:` entries, e.g. `max-fix-attempts: 1`. */
  readonly defaults?: string;
  readonly origin?: boolean;
  /** Extra files of the first commit. */
  readonly files?: Readonly<Record<string, string>>;
}

/** A serial (parallel: false) one-wave milestone 7 with no retries. */
export async function makeAgentRig(spec: AgentRigSpec): Promise<AgentRig> {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(tools, spec.body);
  const plan = [
    `milestone: {number: 7, title: ${JSON.stringify(spec.title)}}`,
    'waves:',
    '  - wave: 1',
    '    parallel: false',
    '    items:',
    ...spec.items.map((i) => `      - {issue: ${i.issue}, title: ${JSON.stringify(i.title)}}`),
    ...(spec.gates ? ['quality-gates:', ...spec.gates.split('\n').map((l) => `  ${l}`)] : []),
    `defaults: {agent: command, retries: 0, timeout: 30s, command: ${JSON.stringify(agent.command)}${spec.defaults ? `, ${spec.defaults}` : ''}}`,
    '',
  ].join('\n');
  const repo = await makeRepo({ plan, items: spec.items, origin: spec.origin, files: spec.files });
  return {
    repo,
    agent,
    tools,
    cleanup: () => {
      repo.cleanup();
      rmSync(tools, { recursive: true, force: true });
    },
  };
}
