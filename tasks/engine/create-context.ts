/** Build the context of a command: find the repository, read the plan, open state and events. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoIssueAllocator } from '../backlog/issue-numbers.ts';
import type { Ctx, RunOptions } from './context.ts';
import type { Entry } from '../lib/command-words.ts';
import { BadInputError } from '../lib/errors.ts';
import { createEventSink, type StampedEvent } from '../lib/events.ts';
import { findCommonDir, findRepoRoot, gitOk } from '../lib/git.ts';
import { AGENT_LOCK, integrationWorktreeOf, stateDirOf } from '../lib/paths.ts';
import { defaultPlanPath, readPlan } from '../lib/plan/load-plan.ts';
import type { Plan } from '../lib/plan/types.ts';
import { isValidMilestoneId } from '../lib/slug.ts';
import type { RunLock } from '../lib/run-lock.ts';
import { openStateStore, STATE_BACKUP, type HealedState } from '../lib/state.ts';
import { describeLiveAgent, findLiveAgents, type LiveAgent } from '../executors/local/live-agents.ts';
import { PACKAGE_ROOT } from '../lib/package-root.ts';
import { createKillCheck, parseKillPoint } from '../lib/kill-point.ts';

/** What a command knows before it has a context. */
export interface ContextInput {
  readonly milestone: string;
  readonly cwd: string;
  readonly repo: string | null;
  /** The repository's top folder for `repo`, when the caller has found it already (refuseAgentStart). */
  readonly root?: string;
  readonly plan: string | null;
  readonly options: RunOptions;
  readonly signal: AbortSignal;
  readonly env: NodeJS.ProcessEnv;
  readonly confirm: (question: string) => Promise<boolean>;
  readonly onEvent?: (event: StampedEvent) => void;
  /** `--dry-run`: nothing is created or written (no state folder, no events, no healed state.json). */
  readonly readOnly?: boolean;
  /** How the user started the command (hints in their words); a script when absent. */
  readonly entry?: Entry;
  /** The run lock this command holds (none for `--dry-run`). */
  readonly runLock?: Pick<RunLock, 'check'>;
}

/** Where a milestone's things are, before anything is opened or created. */
export interface MilestonePlace {
  readonly repo: string;
  readonly plan: Plan;
  readonly commonDir: string;
  readonly stateDir: string;
}

/** The repository and plan of a command (reads only; nothing is created). */
export async function loadPlanOf(
  input: Pick<ContextInput, 'milestone' | 'cwd' | 'repo' | 'root' | 'plan'>,
): Promise<{ repo: string; plan: Plan }> {
  if (!isValidMilestoneId(input.milestone)) {
    throw new BadInputError(
      `milestone "${input.milestone}" is not a milestone number or backlog id (letters, digits, '.', '_', '-')`,
    );
  }
  const repo = input.root ?? (await findRepoRoot(path.resolve(input.cwd, input.repo ?? '.')));
  const plan = await readPlan(repo, input.plan ?? defaultPlanPath(input.milestone));
  if (plan.milestone.id !== input.milestone) {
    throw new BadInputError(`${plan.file} is the plan of milestone ${plan.milestone.id}, not ${input.milestone}`);
  }
  return { repo, plan };
}

/** Refuse to run inside an agent's worktree: agents never start agents. */
export function refuseInsideAgent(repo: string, env: NodeJS.ProcessEnv): void {
  if (env.WORK_MILESTONE_CHILD === '1')
    throw new BadInputError('refusing to run inside an agent (WORK_MILESTONE_CHILD=1): agents never start agents');
  if (existsSync(path.join(repo, AGENT_LOCK)))
    throw new BadInputError(`refusing to run in ${repo}: it is an agent's worktree (${AGENT_LOCK})`);
}

/**
 * Refuse `run`/`step` before anything is read or created when started by an agent (WORK_MILESTONE_CHILD=1) or
 * from inside an agent's worktree (its top holds AGENT_LOCK), whether that is the current directory or `--repo`.
 * Returns the top folder of the repository `--repo` (or the current directory) names, for `ContextInput.root`;
 * undefined outside a repository (the plan lookup then says so).
 */
export async function refuseAgentStart(
  cwd: string,
  repoFlag: string | null,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  refuseInsideAgent(cwd, env);
  const repoDir = path.resolve(cwd, repoFlag ?? '.');
  const tops = new Map<string, string>();
  // One lookup when both name the same directory (no --repo).
  for (const dir of new Set([path.resolve(cwd), repoDir])) {
    // A directory outside any repository holds no agent worktree; the plan lookup reports a missing repository later.
    const top = await findRepoRoot(dir).catch(() => null);
    if (top) tops.set(dir, top);
  }
  for (const top of tops.values()) refuseInsideAgent(top, env);
  return tops.get(repoDir);
}

/** The repository, plan, git common dir and state folder of a command (reads only). */
export async function placeOf(
  input: Pick<ContextInput, 'milestone' | 'cwd' | 'repo' | 'root' | 'plan'>,
): Promise<MilestonePlace> {
  const { repo, plan } = await loadPlanOf(input);
  const commonDir = await findCommonDir(repo);
  return { repo, plan, commonDir, stateDir: stateDirOf(commonDir, plan.milestone.id) };
}

/**
 * The notice for a state.json that was replaced when it was opened; `readOnly` (e.g. `--dry-run: nothing written`)
 * says that nothing was written and why.
 */
export function healedNotice(healed: HealedState, live: readonly LiveAgent[], readOnly: string | null = null): string {
  const how =
    healed.from === 'backup'
      ? `${readOnly ? 'using' : 'restored it from'} ${STATE_BACKUP} (the last state written)`
      : `${readOnly ? 'showing it as rebuilt' : 'rebuilt it'} from the milestone's files and git`;
  const agents = live.length
    ? `; agents still running are waited for, none is started twice: ${live.map(describeLiveAgent).join(', ')}`
    : '';
  const kept = healed.keptAs ? `; the unusable file is kept as ${healed.keptAs}` : readOnly ? ` (${readOnly})` : '';
  return `${healed.problem}; ${how}${agents}${kept}`;
}

/** How long a state change that a crash may lose waits before it is written (docs/state.md). */
const STATE_TICK_MS = 1000;

/** Create the full context of run/step (the state folder and its files are created unless `readOnly`). */
export async function createContext(input: ContextInput, place?: MilestonePlace): Promise<Ctx> {
  const { repo, plan, commonDir, stateDir } = place ?? (await placeOf(input));
  const readOnly = input.readOnly ?? false;
  // Imported here, not at the top: `status` and `plan` import this module, and the GitHub backlog loads octokit.
  const { openBacklog } = await import('../backlog/open-backlog.ts');
  // Several milestones of one repository create follow-ups at once: their numbers come from one place.
  const allocate =
    plan.backlog.kind === 'file'
      ? repoIssueAllocator({
          commonDir,
          cwd: repo,
          dir: plan.backlog.dir,
          command: `milestone ${plan.milestone.id}: new backlog item`,
          signal: input.signal,
        })
      : undefined;
  // One parse per item file and text for the whole run, whichever checkout the backlog is read from.
  const parsed = new Map();
  const store = await openStateStore(stateDir, plan.milestone.id, {
    readOnly,
    // run/step hold the run lock: the one writer keeps the state in memory (docs/performance.md).
    writeBehindMs: readOnly ? undefined : STATE_TICK_MS,
    // Loaded only when state.json cannot be used (it reads run files and git, and loads the merge modules).
    rebuild: async () => (await import('./rebuild-state.ts')).rebuildState({ stateDir, repo, plan }),
  });
  const events = createEventSink(stateDir, input.onEvent, {
    write: !readOnly,
    afterWrite: createKillCheck(parseKillPoint(input.env.WM_KILL_AFTER_EVENT)),
  });
  if (store.healed)
    events.emit({
      type: 'notice',
      message: healedNotice(store.healed, findLiveAgents(stateDir), readOnly ? '--dry-run: nothing written' : null),
    });
  let origin: Promise<boolean> | undefined;
  return {
    repo,
    commonDir,
    stateDir,
    integrationWorktree: integrationWorktreeOf(repo, plan),
    plan,
    options: input.options,
    store,
    events,
    signal: input.signal,
    env: input.env,
    confirm: input.confirm,
    openBacklog: (root) => openBacklog(plan.backlog, root, { allocate, env: input.env, parsed }),
    packageRoot: PACKAGE_ROOT,
    hasOrigin: (fresh = false) => (origin = (!fresh && origin) || gitOk(repo, ['remote', 'get-url', 'origin'])),
    entry: input.entry,
    trusted: { config: null, dependencies: null, gatesDependencies: null, gitSetup: null },
    runLock: input.runLock,
  };
}
