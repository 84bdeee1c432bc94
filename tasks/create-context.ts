/** Build the context of a command: find the repository, read the plan, open state and events. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoIssueAllocator } from './backlog/issue-numbers.ts';
import { openBacklog } from './backlog/open-backlog.ts';
import type { Ctx, RunOptions } from './context.ts';
import { BadInputError } from './lib/errors.ts';
import { createEventSink, type StampedEvent } from './lib/events.ts';
import { findCommonDir, findRepoRoot } from './lib/git.ts';
import { integrationWorktreeOf, stateDirOf } from './lib/paths.ts';
import { defaultPlanPath, readPlan } from './lib/plan.ts';
import type { Plan } from './lib/plan-types.ts';
import { isValidMilestoneId } from './lib/slug.ts';
import { openStateStore } from './lib/state.ts';
import { AGENT_LOCK } from './worktrees.ts';

/** Where the package lives (for its schemas and the scripted agent). */
export const PACKAGE_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

/** What a command knows before it has a context. */
export interface ContextInput {
  readonly milestone: string;
  readonly cwd: string;
  readonly repo: string | null;
  readonly plan: string | null;
  readonly options: RunOptions;
  readonly signal: AbortSignal;
  readonly env: NodeJS.ProcessEnv;
  readonly confirm: (question: string) => Promise<boolean>;
  readonly onEvent?: (event: StampedEvent) => void;
}

/** The repository and plan of a command (reads only; nothing is created). */
export async function loadPlanOf(input: Pick<ContextInput, 'milestone' | 'cwd' | 'repo' | 'plan'>): Promise<{ repo: string; plan: Plan }> {
  if (!isValidMilestoneId(input.milestone)) {
    throw new BadInputError(`milestone "${input.milestone}" is not a milestone number or backlog id (letters, digits, '.', '_', '-')`);
  }
  const repo = await findRepoRoot(path.resolve(input.cwd, input.repo ?? '.'));
  const plan = await readPlan(repo, input.plan ?? defaultPlanPath(input.milestone));
  if (plan.milestone.id !== input.milestone) {
    throw new BadInputError(`${plan.file} is the plan of milestone ${plan.milestone.id}, not ${input.milestone}`);
  }
  return { repo, plan };
}

/** Refuse to run inside an agent's worktree: agents never start agents (DESIGN §5). */
export function refuseInsideAgent(repo: string, env: NodeJS.ProcessEnv): void {
  if (env.WORK_MILESTONE_CHILD === '1') throw new BadInputError('refusing to run inside an agent (WORK_MILESTONE_CHILD=1): agents never start agents');
  if (existsSync(path.join(repo, AGENT_LOCK))) throw new BadInputError(`refusing to run in ${repo}: it is an agent's worktree (${AGENT_LOCK})`);
}

/**
 * Refuse `run`/`step` before anything is read or created when started by an agent (WORK_MILESTONE_CHILD=1) or
 * from inside an agent's worktree (its top holds AGENT_LOCK), whether that is the current directory or `--repo`.
 */
export async function refuseAgentStart(cwd: string, repoFlag: string | null, env: NodeJS.ProcessEnv): Promise<void> {
  refuseInsideAgent(cwd, env);
  const tops = new Set<string>();
  for (const dir of [cwd, path.resolve(cwd, repoFlag ?? '.')]) {
    // A directory outside any repository holds no agent worktree; the plan lookup reports a missing repository later.
    const top = await findRepoRoot(dir).catch(() => null);
    if (top) tops.add(top);
  }
  for (const top of tops) refuseInsideAgent(top, env);
}

/** Create the full context of run/step. */
export async function createContext(input: ContextInput): Promise<Ctx> {
  const { repo, plan } = await loadPlanOf(input);
  const commonDir = await findCommonDir(repo);
  const stateDir = stateDirOf(commonDir, plan.milestone.id);
  // Several milestones of one repository create follow-ups at once: their numbers come from one place.
  const allocate = plan.backlog.kind === 'file'
    ? repoIssueAllocator({ commonDir, cwd: repo, dir: plan.backlog.dir, command: `milestone ${plan.milestone.id}: new backlog item`, signal: input.signal })
    : undefined;
  return {
    repo,
    commonDir,
    stateDir,
    integrationWorktree: integrationWorktreeOf(repo, plan),
    plan,
    options: input.options,
    store: await openStateStore(stateDir, plan.milestone.id),
    events: createEventSink(stateDir, input.onEvent),
    signal: input.signal,
    env: input.env,
    confirm: input.confirm,
    openBacklog: (root) => openBacklog(plan.backlog, root, { allocate }),
    packageRoot: PACKAGE_ROOT,
  };
}
