/** One item's agent: start it, find it again, judge what it did (docs/steps.md: spawn, wait). */
import { accessSync, constants, existsSync, lstatSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { adapterFor } from '../agents/adapters.ts';
import type { AgentOutcome } from '../agents/types.ts';
import { formatBytes } from '../lib/byte-size.ts';
import { readPidFile, runFilesOf, type RunFiles } from '../executors/local/process.ts';
import { executorFor } from '../executors/registry.ts';
import { correlationId, type AgentHandle, type AgentStatus, type LeftProcess } from '../executors/types.ts';
import { describeLeftProcesses } from '../executors/local/escaped.ts';
import { buildItemPrompt } from '../agents/prompt.ts';
import type { Ctx } from '../engine/context.ts';
import { executorSettingsFor, settingsFor } from './agent-settings.ts';
import { agentWindows, checkGuards } from '../guards/agent-guards.ts';
import { judgeAttempt, readBranchFacts, type Verdict } from './item-result.ts';
import { agentEnv } from '../lib/child-env.ts';
import { formatDuration } from '../lib/duration.ts';
import { readClock } from '../lib/fresh-read.ts';
import { BadInputError, StepFailedError } from '../lib/errors.ts';
import { processStartTime } from '../lib/process-info.ts';
import { itemDirOf, LINKED_FOLDERS } from '../lib/paths.ts';
import { cutFile } from '../lib/cut-file.ts';
import { removeStaleLocks } from '../lib/stale-locks.ts';
import { findItem, type AgentKind, type PlanItem } from '../lib/plan/types.ts';
import { liveItemAgent, type LiveAgent } from '../executors/local/live-agents.ts';
import { ensureItemWorktree } from '../items/item-worktree.ts';
import type { ItemState } from '../lib/state-types.ts';
import { relayForWave } from '../reporting/relay-text.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { keptPaths, runnerFilesOf } from '../guards/runner-files.ts';
import { git, gitRaw, revParse } from '../lib/git.ts';
import { restoreIntegration, setRefs, writePin } from '../guards/refs-guard.ts';
import { keepRunnerExcludes } from '../guards/exclude-guard.ts';
import { headFileBranch } from '../lib/git-files.ts';
import { updateItem } from '../lib/state-items.ts';
import { agentBudgetUsd } from '../lib/run-budget.ts';
import { writeOwnFile } from '../lib/own-file.ts';
import { setAsideBrokenWorktree } from '../lib/worktree-repair.ts';
import { readRegularFile } from '../lib/regular-file.ts';

/** The files of attempt `attempt` of an item. */
export function attemptFiles(ctx: Ctx, issue: number, attempt: number): RunFiles {
  return runFilesOf(itemDirOf(ctx.stateDir, issue), `item-${attempt}`);
}

/** The handle of attempt `attempt` of an item (run by the local executor; its files as `attemptFiles`). */
export function itemHandleOf(
  milestone: string,
  stateDir: string,
  issue: number,
  attempt: number,
  agent: AgentKind,
): AgentHandle {
  const id = correlationId(milestone, issue, 'item', attempt);
  return { kind: 'local', id, agent, dir: itemDirOf(stateDir, issue), name: `item-${attempt}` };
}

/** The current attempt's handle: as recorded, or (state of older runs) the one its files have always had. */
function currentHandle(ctx: Ctx, st: ItemState): AgentHandle {
  const id = correlationId(ctx.plan.milestone.id, st.issue, 'item', st.attempts);
  if (st.handle?.id === id) return st.handle;
  const item = findItem(ctx.plan, st.issue);
  const agent = item ? settingsFor(ctx, item).agent : ctx.plan.defaults.agent;
  return itemHandleOf(ctx.plan.milestone.id, ctx.stateDir, st.issue, st.attempts, agent);
}

function itemState(ctx: Ctx, issue: number): ItemState {
  const st = ctx.store.current().items[String(issue)];
  if (!st) throw new Error(`internal: no state for #${issue}`);
  return st;
}

/**
 * The plan's prompt template, or null; a missing file (deleted, or stashed by prepare when uncommitted) is bad input.
 */
async function readTemplate(ctx: Ctx): Promise<string | null> {
  const file = ctx.plan.defaults.promptTemplate;
  if (file === null) return null;
  try {
    return await readRegularFile(path.resolve(ctx.repo, file));
  } catch (cause) {
    throw new BadInputError(
      `${ctx.plan.file}: defaults.prompt-template ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}); commit it so a stash does not take it away`,
      { cause },
    );
  }
}

/** What sets the program of each agent kind, for a message about a program that cannot be found. */
const PROGRAM_SETTING: Readonly<Record<AgentKind, string>> = {
  claude: 'set CLAUDE_BIN to its path or put it on PATH, or choose another agent with --agent',
  codex: 'set CODEX_BIN to its path or put it on PATH, or choose another agent with --agent',
  command: 'put it on PATH',
  scripted: 'put it on PATH',
};

/** Whether `file` names a program that can be started from `cwd` with `env` (a path, or a name found on its PATH). */
function programExists(file: string, cwd: string, env: NodeJS.ProcessEnv): boolean {
  const executable = (candidate: string) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) return executable(path.resolve(cwd, file));
  return (env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir !== '' && executable(path.join(path.resolve(cwd, dir), file)));
}

/**
 * Bad input (exit 2) when the agent's program, or the shell that wraps it, cannot be found: a start that would fail
 * every time.
 */
function assertStartable(kind: AgentKind, file: string, cwd: string, env: NodeJS.ProcessEnv): void {
  for (const [program, how] of [
    ['sh', 'put it on PATH'],
    [file, PROGRAM_SETTING[kind]],
  ] as const) {
    if (!programExists(program, cwd, env)) {
      throw new BadInputError(
        `the ${kind} agent cannot start: its program ${program} was not found${program.includes('/') ? '' : ' on PATH'}; ${how}`,
      );
    }
  }
}

/** Whether an item worktree is there to start an agent in (an agent or a user may have removed it). */
function worktreePresent(dir: string): boolean {
  return existsSync(path.join(dir, '.git'));
}

/**
 * Whether a linked worktree's own HEAD file names `branch` (`ref: refs/heads/<branch>`), read without spawning git.
 * Anything else (another branch, a detached HEAD, a reftable repository, whose HEAD file names no branch) is false:
 * git is asked then.
 */
export async function headFileNames(worktree: string, branch: string): Promise<boolean> {
  return headFileBranch(worktree) === branch;
}

/**
 * Take on an agent of the item that runs although state had no record of it (state lost or rebuilt, a crash between
 * starting it and recording it): the item waits for that agent, and no second one is started.
 */
async function adoptLiveAgent(ctx: Ctx, item: PlanItem, agent: LiveAgent): Promise<void> {
  const attempt = agent.attempt ?? itemState(ctx, item.issue).attempts;
  const timeoutMs = settingsFor(ctx, item).timeoutMs;
  await ctx.store.update((s) => {
    // The adopted attempt counts within this run's retry budget.
    updateItem(s, item.issue, (it) => ({
      status: 'in-progress',
      attempts: attempt,
      attemptBase: Math.min(it.attemptBase ?? 0, attempt - 1),
      process: { pid: agent.pid, startTime: agent.startTime, startedAt: agent.startedAt, attempt, timeoutMs },
      handle: itemHandleOf(ctx.plan.milestone.id, ctx.stateDir, item.issue, attempt, settingsFor(ctx, item).agent),
    }));
  });
  ctx.events.emit({
    type: 'notice',
    message: `#${item.issue}: its agent of attempt ${attempt} (pid ${agent.pid}) still runs; waiting for it instead of starting another`,
  });
  ctx.events.emit({ type: 'item', issue: item.issue, status: 'in-progress', detail: `attempt ${attempt} (adopted)` });
}

/** The one sentence for a process that could not be started: the folder it needed, or the program. */
function startFailure(error: unknown, kind: AgentKind, file: string, cwd: string, issue: number): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && !existsSync(cwd)) {
    return new StepFailedError(
      `#${issue}: its agent could not start: its worktree ${cwd} disappeared as it was starting (not counted as an attempt; run again: the worktree is recreated)`,
      { cause: error },
    );
  }
  if (code === 'ENOENT' || code === 'EACCES') {
    return new BadInputError(
      `the ${kind} agent cannot start (${(error as Error).message}; its program is ${file}); ${PROGRAM_SETTING[kind]}`,
      { cause: error },
    );
  }
  return new StepFailedError(
    `#${issue}: its agent could not start (${(error as Error).message}); not counted as an attempt`,
    { cause: error },
  );
}

/**
 * Start the next attempt of an item's agent; the attempt is recorded before the process starts. A live agent of the
 * item found through its pid file is adopted instead; a removed worktree is recreated first; a start that fails
 * (a program or folder missing) is not counted as an attempt.
 */
export async function startItemAgent(ctx: Ctx, item: PlanItem): Promise<void> {
  const live = liveItemAgent(ctx.stateDir, item.issue);
  if (live) return adoptLiveAgent(ctx, item, live);
  let st = itemState(ctx, item.issue);
  if (!st.worktree || !st.branch) throw new Error(`internal: #${item.issue} has no worktree`);
  // One git no longer sees as a worktree (its admin folder removed) is moved aside first: `worktree add` refuses it.
  const broken = await setAsideBrokenWorktree(ctx.commonDir, st.worktree);
  if (broken || !worktreePresent(st.worktree)) {
    await ensureItemWorktree(ctx, item);
    st = itemState(ctx, item.issue);
    ctx.events.emit({
      type: 'notice',
      message: `#${item.issue}: its worktree ${st.worktree} ${broken ?? 'was missing (removed during a run?)'}; recreated it on ${st.branch}`,
    });
  }
  const worktree = st.worktree as string;
  const branch = st.branch as string;
  const attempt = st.attempts + 1;
  const settings = settingsFor(ctx, item);
  // What can fail on bad input (template, agent command) fails before the attempt is recorded: the item stays pending.
  const cached = ctx.store.current().cache[String(item.issue)];
  if (!cached) throw new Error(`internal: #${item.issue} was not fetched`);
  const template = await readTemplate(ctx);
  const prompt = buildItemPrompt(
    {
      item: cached,
      milestone: ctx.plan.milestone.id,
      wave: item.wave,
      worktree,
      branch,
      gates: [...ctx.plan.gates.preMerge, ...ctx.plan.gates.postMerge],
      relay: await relayForWave(ctx, item.wave),
      previousFailure: st.failure,
      linked: LINKED_FOLDERS.filter((f) =>
        lstatSync(path.join(worktree, f), { throwIfNoEntry: false })?.isSymbolicLink(),
      ),
      runnerFiles: keptPaths(runnerFilesOf(ctx.plan)),
    },
    template,
  );
  const dir = itemDirOf(ctx.stateDir, item.issue);
  const promptFile = path.join(dir, `prompt-${attempt}.md`);
  const spec = adapterFor(settings.agent).launch(
    {
      role: 'item',
      issue: item.issue,
      title: item.title,
      wave: item.wave,
      milestone: ctx.plan.milestone.id,
      worktree,
      branch,
      prompt,
      promptFile,
      settings: {
        ...settings,
        maxBudgetUsd: agentBudgetUsd(settings.maxBudgetUsd, ctx.plan, ctx.store.current()),
      },
      edits: item.edits,
    },
    ctx.env,
  );
  const env = agentEnv(ctx.env, {
    WM_PROMPT_FILE: promptFile,
    WM_ISSUE: String(item.issue),
    WM_TITLE: item.title,
    WM_WORKTREE: worktree,
    WM_BRANCH: branch,
    WM_WAVE: String(item.wave),
    WM_MILESTONE: ctx.plan.milestone.id,
    WM_ROLE: 'item',
    WM_ATTEMPT: String(attempt),
  });
  const where = executorSettingsFor(ctx, item);
  // A remote agent's program is on the remote machine.
  if (where.kind === 'local') assertStartable(settings.agent, spec.file, worktree, { ...env, ...spec.env });
  await mkdir(dir, { recursive: true });
  // An earlier attempt killed while its git ran (or one that left a lock on purpose) would fail every later commit.
  removeStaleLocks(worktree, ctx.commonDir, branch, (message) =>
    ctx.events.emit({ type: 'notice', message: `#${item.issue}: ${message}` }),
  );
  // A worktree left on another branch or detached (an earlier attempt switched it) starts again on its own branch.
  if (
    !(await headFileNames(worktree, branch)) &&
    (await gitRaw(worktree, ['symbolic-ref', '-q', 'HEAD'])).stdout.trim() !== `refs/heads/${branch}`
  ) {
    await git(worktree, ['switch', '-q', '--discard-changes', branch]);
  }
  await writeOwnFile(promptFile, prompt);
  const handle = itemHandleOf(ctx.plan.milestone.id, ctx.stateDir, item.issue, attempt, settings.agent);
  const executor = executorFor(where.kind, ctx.env);
  const remote =
    where.kind === 'local'
      ? {}
      : {
          remote: {
            executor: where,
            milestone: ctx.plan.milestone.id,
            issue: item.issue,
            attempt,
            branch,
            base: st.base ?? (await git(worktree, ['rev-parse', 'HEAD'])),
            integrationBranch: ctx.plan.milestone.integrationBranch,
            timeoutMs: settings.timeoutMs,
          },
        };
  let dispatched: AgentHandle;
  try {
    // A re-run (`run` resets failed items to attempt 0) reuses these file names: the executor clears what the last
    // run left before the attempt and its handle are recorded, so a crash in between is safe.
    dispatched = await executor.dispatch(
      {
        id: handle.id,
        agent: handle.agent,
        launch: spec,
        cwd: worktree,
        env,
        dir: handle.dir,
        name: handle.name,
        ...remote,
      },
      async (recorded) => {
        await ctx.store.update((s) => {
          updateItem(s, item.issue, { attempts: attempt, status: 'in-progress', process: null, handle: recorded });
        });
      },
    );
  } catch (error) {
    // Nothing ran: the attempt does not count, and the next run does not find it half-made.
    await forgetUnstartedAttempt(ctx, item.issue);
    // A remote executor's refusal (no token, no workflow) says what to fix itself.
    throw error instanceof BadInputError ? error : startFailure(error, settings.agent, spec.file, worktree, item.issue);
  }
  const status = await executor.poll(dispatched);
  const pid = status.state === 'running' ? status.pid : null;
  const startTime = pid === null ? null : processStartTime(pid);
  // The pid and start time are for what reads `process` (guards, `run --stop`); one that ended at once has none.
  if (pid !== null && startTime !== null)
    await ctx.store.update((s) => {
      updateItem(s, item.issue, {
        process: { pid, startTime, startedAt: new Date().toISOString(), attempt, timeoutMs: settings.timeoutMs },
      });
    });
  ctx.events.emit({ type: 'agent-spawned', issue: item.issue, role: 'item', pid: pid ?? 0, attempt });
  ctx.events.emit({ type: 'item', issue: item.issue, status: 'in-progress', detail: `attempt ${attempt}` });
}

/** Where an in-progress attempt stands. */
export type AttemptState =
  | { readonly kind: 'running' }
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'died' }
  | { readonly kind: 'timed-out' }
  /** It printed more than its `max-output` (stdout and stderr together). */
  | { readonly kind: 'too-much-output'; readonly limitBytes: number }
  /** A crash between recording the attempt and starting its process: nothing ran. */
  | { readonly kind: 'not-started' };

/** Look at an in-progress attempt (read-only but for adopting a started agent whose pid was not recorded). */
export async function pollItemAgent(ctx: Ctx, issue: number): Promise<AttemptState> {
  const st = itemState(ctx, issue);
  const files = attemptFiles(ctx, issue, st.attempts);
  let proc = st.process;
  const status: AgentStatus = await executorFor(currentHandle(ctx, st).kind, ctx.env).poll(currentHandle(ctx, st));
  if (!proc && status.state === 'running') {
    // Crash between "attempt recorded" and "pid recorded": the wrapper's pid file finds the agent. Its timeout
    // counts from the agent's start as the executor tells it (for a local one, its wrapper's start as the kernel
    // keeps it: not the pid file's time, which the agent can set), so an adopted agent cannot run forever.
    const found = readPidFile(files);
    const item = findItem(ctx.plan, issue);
    if (found) {
      const startedAt = new Date(Math.min(Date.parse(status.startedAt), Date.now()));
      const timeoutMs = item ? settingsFor(ctx, item).timeoutMs : 0;
      proc = { ...found, startedAt: startedAt.toISOString(), attempt: st.attempts, timeoutMs };
      const adopted = proc;
      await ctx.store.update((s) => {
        updateItem(s, issue, { process: adopted });
      });
    }
  }
  const item = findItem(ctx.plan, issue);
  const limitBytes = item ? settingsFor(ctx, item).maxOutputBytes : ctx.plan.defaults.maxOutputBytes;
  switch (status.state) {
    case 'succeeded':
    case 'failed':
      // Past the limit and ended before a look saw it running: the same verdict as when a look did.
      if ((status.outputBytes ?? 0) > limitBytes) return { kind: 'too-much-output', limitBytes };
      return { kind: 'exited', code: status.state === 'succeeded' ? 0 : status.exitCode };
    case 'cancelled':
    case 'lost':
      // No process ever recorded (a crash between recording the attempt and starting it; a rebuilt state whose
      // agents were stopped): the attempt does not count.
      return proc ? { kind: 'died' } : { kind: 'not-started' };
    case 'queued':
      return { kind: 'running' };
    case 'running': {
      if (proc && proc.timeoutMs > 0 && Date.now() - Date.parse(proc.startedAt) > proc.timeoutMs)
        return { kind: 'timed-out' };
      if ((status.outputBytes ?? 0) > limitBytes) return { kind: 'too-much-output', limitBytes };
      return { kind: 'running' };
    }
  }
}

/** Resolves when the item's current agent ends, when this process started it; null: only polling will tell. */
export function itemAgentEnded(ctx: Ctx, issue: number): Promise<void> | null {
  const st = itemState(ctx, issue);
  if (!st.handle) return null;
  const handle = currentHandle(ctx, st);
  return executorFor(handle.kind, ctx.env).ended?.(handle) ?? null;
}

/** Forget an attempt that never started a process (the runner died in between); it does not count. */
export async function forgetUnstartedAttempt(ctx: Ctx, issue: number): Promise<void> {
  await ctx.store.update((s) => {
    const it = s.items[String(issue)];
    if (it && it.status === 'in-progress' && !it.process)
      Object.assign(it, { status: 'pending', attempts: Math.max(0, it.attempts - 1), handle: null });
  });
}

/**
 * An item worktree found on another branch (main, the integration branch) is detached, so that branch is free again.
 * Commits it made on main since the runner last saw main are marked: landing stops on them until a human says.
 */
async function releaseForeignBranch(ctx: Ctx, issue: number, worktree: string, branch: string): Promise<void> {
  await gitRaw(worktree, ['switch', '-q', '--detach']);
  ctx.events.emit({ type: 'notice', message: `#${issue}: its worktree had ${branch} checked out; detached it` });
  if (branch !== MAIN_BRANCH) return;
  const seen = ctx.store.current().refs?.main ?? ctx.store.current().branch?.base ?? null;
  const now = await revParse(ctx.repo, `refs/heads/${MAIN_BRANCH}`);
  if (!seen || !now || seen === now) return;
  await setRefs(ctx, {
    suspect: { from: seen, to: now, reason: `#${issue}'s agent had ${MAIN_BRANCH} checked out in its worktree` },
  });
}

/** Why an attempt that ended without its own exit code failed. */
function stoppedOutcome(
  ended: Exclude<AttemptState, { kind: 'running' | 'not-started' }>,
  timeoutMs: number,
): Pick<AgentOutcome, 'failure' | 'failureCode'> {
  switch (ended.kind) {
    case 'timed-out':
      return {
        failureCode: 'timeout',
        failure: `timed out after ${formatDuration(timeoutMs)}; its process group was killed`,
      };
    case 'too-much-output':
      return {
        failureCode: 'output-limit',
        failure: `printed more than ${formatBytes(ended.limitBytes)} (max-output); its process group was killed`,
      };
    case 'exited':
    case 'died':
      return { failureCode: 'lost', failure: 'the agent process died without a result' };
  }
}

/** Processes the agent left running outside its group (stopped by now): a notice, and a flag on its result. */
function withLeftProcesses(ctx: Ctx, issue: number, verdict: Verdict, left: readonly LeftProcess[]): Verdict {
  const text = describeLeftProcesses(left);
  ctx.events.emit({ type: 'notice', message: `#${issue}: ${text}` });
  return { ...verdict, result: { ...verdict.result, flags: [...verdict.result.flags, text] } };
}

/** Judge an ended attempt and record it; returns whether the item gets another attempt. */
export async function finishItemAttempt(
  ctx: Ctx,
  item: PlanItem,
  ended: Exclude<AttemptState, { kind: 'running' | 'not-started' }>,
): Promise<'retry' | 'final'> {
  const st = itemState(ctx, item.issue);
  const settings = settingsFor(ctx, item);
  const startedAt = st.process ? Date.parse(st.process.startedAt) : Date.now();
  const handle = currentHandle(ctx, st);
  const executor = executorFor(handle.kind, ctx.env);
  // A timed-out agent is killed with its group; one that ended may have left children in it (a server it started,
  // a stray `cmd &`): collecting stops them too, before git is read, so nothing keeps writing to the worktree.
  if (ended.kind === 'timed-out' || ended.kind === 'too-much-output') await executor.cancel(handle);
  const collected = await executor.collect(handle);
  if (ended.kind === 'too-much-output' && handle.kind === 'local') {
    // What it printed past the limit, between two looks, takes no disk once it is stopped.
    const files = attemptFiles(ctx, item.issue, st.attempts);
    const note = `work-milestone: stopped: the agent printed more than ${formatBytes(ended.limitBytes)} (max-output)`;
    for (const file of [files.stdout, files.stderr]) cutFile(file, Math.floor(ended.limitBytes / 2), note);
  }
  // Nothing of the agent runs from here on (a local one's group is gone): what it wrote anywhere is written.
  const settled = readClock();
  // Without the runner's exclude lines its worktree folder and the agent lock would look like this agent's leftovers
  // and writes into the checkout.
  await keepRunnerExcludes(ctx);
  const facts = await readBranchFacts(
    ctx.repo,
    ctx.commonDir,
    st.worktree ?? ctx.repo,
    st.base ?? 'HEAD',
    st.branch ?? 'HEAD',
  );
  const outcome =
    ended.kind === 'exited' && collected.exitCode !== null
      ? collected.outcome
      : {
          ok: false,
          text: '',
          costUsd: null,
          turns: null,
          sessionId: null,
          usage: null,
          denials: [],
          ...stoppedOutcome(ended, settings.timeoutMs),
        };
  // A deleted integration branch would make every file of its worktree look new (and blamed on this agent).
  await restoreIntegration(ctx);
  const guards = await checkGuards(
    {
      repo: ctx.repo,
      integration: ctx.integrationWorktree,
      commonDir: ctx.commonDir,
      stateDir: ctx.stateDir,
      integrationMade: ctx.store.current().branch !== null,
      held: ctx.trusted,
      kept: runnerFilesOf(ctx.plan),
    },
    {
      issue: item.issue,
      start: startedAt,
      base: st.base,
      branch: st.branch,
      tip: facts.tip,
      settled,
      worktree: st.worktree,
    },
    agentWindows(ctx.store.current()),
  );
  const protectedBranches = [
    MAIN_BRANCH,
    ctx.plan.milestone.integrationBranch,
    ...Object.values(ctx.store.current().items).flatMap((i) => (i.branch && i.branch !== st.branch ? [i.branch] : [])),
  ];
  const judged = judgeAttempt(outcome, facts, st.branch ?? '', guards, protectedBranches);
  const verdict = collected.left ? withLeftProcesses(ctx, item.issue, judged, collected.left) : judged;
  if (st.worktree && facts.headBranch && protectedBranches.includes(facts.headBranch))
    await releaseForeignBranch(ctx, item.issue, st.worktree, facts.headBranch);
  // Judged good: the tip read above is what gets merged, whatever happens to the branch from now on.
  const pinned = verdict.status !== 'failed' ? facts.tip : null;
  if (pinned) await writePin(ctx, item.issue, pinned);
  // The retry budget counts this run's attempts only: `run` again gives failed items a fresh one.
  const retry = verdict.status === 'failed' && st.attempts - (st.attemptBase ?? 0) <= settings.retries;
  const durationMs = Date.now() - startedAt;
  await writeOwnFile(
    path.join(itemDirOf(ctx.stateDir, item.issue), `result-${st.attempts}.json`),
    `${JSON.stringify({ ...verdict, durationMs }, null, 2)}\n`,
  );
  await ctx.store.update((s) => {
    const it = updateItem(s, item.issue, {
      process: null,
      handle: null,
      failure: verdict.failure,
      failureCode: verdict.failureCode,
      result: { ...verdict.result, durationMs },
      spentUsd: (st.spentUsd ?? 0) + (outcome.costUsd ?? 0),
      pinned,
      status: retry ? 'pending' : verdict.status,
    });
    if (!retry) {
      it.finishedAt = new Date().toISOString();
      s.seq += 1;
      it.finishSeq = s.seq;
    }
  });
  ctx.events.emit({
    type: 'agent-exited',
    issue: item.issue,
    role: 'item',
    exitCode: ended.kind === 'exited' ? ended.code : null,
    detail: verdict.failure ?? undefined,
  });
  ctx.events.emit({
    type: 'item',
    issue: item.issue,
    status: retry ? 'retrying' : verdict.status,
    detail: verdict.failure ?? undefined,
    ...(verdict.failureCode ? { failureCode: verdict.failureCode } : {}),
  });
  return retry ? 'retry' : 'final';
}
