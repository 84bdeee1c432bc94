/** `list`: the milestones that have a plan in plan/, and their state. Reads only (no lock, nothing written). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findCommonDir, findRepoRoot } from '../lib/git.ts';
import { stateDirOf } from '../lib/paths.ts';
import { findPlanFiles } from '../lib/plan/plan-files.ts';
import { liveLockOwner } from '../lib/run-lock.ts';
import { readState } from '../lib/state.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** Where a milestone stands, as `list` shows it. */
export type MilestoneState =
  | { readonly kind: 'not started' }
  | { readonly kind: 'running'; readonly pid: number }
  | { readonly kind: 'needs attention'; readonly why: string }
  | { readonly kind: 'landed'; readonly sha: string };

/** One line of `list`. */
export interface ListedMilestone {
  readonly milestone: string;
  readonly plan: string;
  readonly state: MilestoneState;
}

/** Why a milestone that is started, not running and not landed waits for a human: its items, or that it stopped. */
async function attentionOf(stateDir: string, milestone: string): Promise<string> {
  let state;
  try {
    state = await readState(stateDir, milestone);
  } catch (error) {
    return `${(error as Error).message.split('\n')[0]}`;
  }
  const items = Object.values(state.items);
  const failed = items.filter((i) => i.status === 'failed' || i.status === 'skipped' || i.status === 'escalated');
  if (failed.length > 0)
    return failed
      .sort((a, b) => a.issue - b.issue)
      .map((i) => `#${i.issue} ${i.status}`)
      .join(', ');
  const done = items.filter((i) => i.status === 'complete' || i.status === 'partial').length;
  return `stopped before landing (${done} of ${items.length} item(s) done)`;
}

/** The state of one milestone from its state folder: the run lock's live owner first, then state.json. */
export async function milestoneState(stateDir: string, milestone: string): Promise<MilestoneState> {
  const owner = liveLockOwner(path.join(stateDir, 'run.lock'));
  if (owner) return { kind: 'running', pid: owner.pid };
  if (!existsSync(path.join(stateDir, 'state.json'))) return { kind: 'not started' };
  const state = await readState(stateDir, milestone).catch(() => null);
  if (state?.land) return { kind: 'landed', sha: state.land.mainAfter };
  return { kind: 'needs attention', why: await attentionOf(stateDir, milestone) };
}

/** `running (pid 4242)`, `needs attention: #3 failed`, … */
export function describeState(state: MilestoneState): string {
  switch (state.kind) {
    case 'not started':
      return 'not started';
    case 'running':
      return `running (runner pid ${state.pid})`;
    case 'needs attention':
      return `needs attention: ${state.why}`;
    case 'landed':
      return `landed (${state.sha.slice(0, 10)})`;
  }
}

/** Print every milestone with a plan and its state, one line each (`--json`: one JSON document). */
export async function listCommand(flags: Flags, io: Io): Promise<number> {
  const repo = await findRepoRoot(path.resolve(io.cwd, flags.repo ?? '.'));
  const commonDir = await findCommonDir(repo);
  const listed: ListedMilestone[] = [];
  for (const plan of findPlanFiles(repo)) {
    listed.push({
      milestone: plan.milestone,
      plan: plan.file,
      state: await milestoneState(stateDirOf(commonDir, plan.milestone), plan.milestone),
    });
  }
  if (flags.json) {
    io.out(JSON.stringify({ milestones: listed }, null, 2));
    return 0;
  }
  if (listed.length === 0) {
    io.out('no plan in plan/ (plan/milestone-<N>-dispatch.yaml)');
    return 0;
  }
  for (const m of listed) io.out(`milestone ${m.milestone}: ${describeState(m.state)}  (${m.plan})`);
  return 0;
}
