/** A one-wave milestone 7 whose items are run by a `command` agent script (see `writeAgent`), in a fresh repository. */
import { rmSync } from 'node:fs';
import { makeRepo, tempDir, writeAgent, type AgentScript, type ItemSpec, type TestRepo } from './fixture.ts';
import { commandDefaults, planYaml, type PlanWave } from './plan.ts';
import { keysOf, type PlanKeys } from './wave-rig.ts';

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
  /** The waves (by default one serial wave of `items`). */
  readonly waves?: readonly PlanWave[];
  /** The agent script's body (`writeAgent`). */
  readonly body: string;
  /** The plan's `quality-gates:` map (as text: the block without its key). */
  readonly gates?: PlanKeys;
  /** More `defaults:` entries, e.g. `{'max-fix-attempts': 1}` (as text: `max-fix-attempts: 1`). */
  readonly defaults?: PlanKeys;
  readonly origin?: boolean;
  /** Extra files of the first commit. */
  readonly files?: Readonly<Record<string, string>>;
}

/** A milestone 7 (by default one serial wave) whose `command` agents are the script, with no retries. */
export async function makeAgentRig(spec: AgentRigSpec): Promise<AgentRig> {
  const tools = tempDir('wm-agent-');
  const agent = writeAgent(tools, spec.body);
  const plan = planYaml({
    title: spec.title,
    waves: spec.waves ?? [{ parallel: false, items: spec.items }],
    gates: spec.gates === undefined ? undefined : keysOf(spec.gates, false),
    defaults: commandDefaults(agent.command, keysOf(spec.defaults, true)),
  });
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
