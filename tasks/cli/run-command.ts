/** `run.mts <N>` and `step.mts <step> <N>`: take the lock, run the graph or one step, report what needs attention. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ctx } from '../engine/context.ts';
import { defaultSettingsFor } from '../items/agent-settings.ts';
import { formatAttention, itemsNeedingAttention, type AttentionItem } from '../reporting/attention.ts';
import { buildRunSummary } from '../reporting/run-summary.ts';
import type { StampedEvent } from '../lib/events.ts';
import { createContext, placeOf, type ContextInput, type MilestonePlace } from '../engine/create-context.ts';
import { executeRun, executeStep, type RendererKind } from '../engine/execute.ts';
import { compileGraph, graphToJson } from '../engine/graph.ts';
import { isRunning, killGroup, readExitCode, runFilesOf } from '../executors/local/process.ts';
import { attemptFiles } from '../items/item-agent.ts';
import { commandLine, usageLine } from '../lib/command-words.ts';
import {
  BadInputError,
  InterruptedError,
  NeedsAttentionError,
  StepFailedError,
  withDetail,
  WorkMilestoneError,
} from '../lib/errors.ts';
import { waitForGitIn } from '../lib/git-orphans.ts';
import { acquireRunLock } from '../lib/run-lock.ts';
import { UnreadableStateError } from '../lib/state.ts';
import type { AgentProcess, ItemState } from '../lib/state-types.ts';
import { describeLiveAgent, findLiveAgents } from '../executors/local/live-agents.ts';
import { pendingSessions, waitForSession } from '../executors/agent-session.ts';
import { executorFor } from '../executors/registry.ts';
import { isEnded } from '../executors/types.ts';
import { keepConflictResolution } from '../merging/merge-agent.ts';
import { STEP_IDS, type StepId } from '../engine/step.ts';
import { STEPS } from '../steps/index.ts';
import { landModeOf } from '../landing/land-mode.ts';
import type { Flags } from './flags.ts';
import { flushOutput, type Io } from './io.ts';
import { updateItem } from '../lib/state-items.ts';
import { finishLeftGatesWork } from '../steps/gates.ts';

function rendererFor(flags: Flags, io: Io): RendererKind {
  if (flags.json || io.env.WM_RENDERER === 'silent') return 'silent';
  return io.isTTY && !io.env.CI ? 'default' : 'simple';
}

/** How long a runner that took over a killed one's lock waits for the git processes it left (docs/state.md). */
const LEFT_GIT_WAIT_MS = 30_000;

/**
 * After taking over the lock of a runner that died: the git processes it left working in the integration worktree (a
 * merge, a commit: a SIGKILL does not reach them) end before this runner works there. Agents' own git is not waited
 * for.
 */
async function waitForLeftGit(ctx: Ctx): Promise<void> {
  const agents = new Set(findLiveAgents(ctx.stateDir).map((a) => a.pid));
  const where = path.relative(ctx.repo, ctx.integrationWorktree) || '.';
  const left = await waitForGitIn(ctx.integrationWorktree, agents, {
    timeoutMs: LEFT_GIT_WAIT_MS,
    onWait: (found) =>
      ctx.events.emit({
        type: 'notice',
        message: `waiting for git ${found.map((p) => p.pid).join(', ')} (left by the previous runner in ${where}) to end`,
      }),
  });
  if (left.length > 0) {
    const pids = left.map((p) => p.pid).join(' ');
    throw new StepFailedError(
      `git ${pids} of the previous runner still works in ${where} after ${LEFT_GIT_WAIT_MS / 1000} s; stop it (kill ${pids}) and run again`,
    );
  }
}

/**
 * Items whose agent runs now: its process (pid + start time) or group is alive and its wrapper has not written the exit
 * code.
 */
function liveAgents(ctx: Ctx): ItemState[] {
  return Object.values(ctx.store.current().items).filter(
    (st) => st.status === 'in-progress' && st.process !== null && isRunning(st.process) && !ended(ctx, st),
  );
}

/**
 * Whether the item's current attempt ended on its own (exit code written; what it left in its group is killed when
 * judged).
 */
function ended(ctx: Ctx, st: ItemState): boolean {
  return readExitCode(attemptFiles(ctx, st.issue, st.attempts)) !== null;
}

/** What `stopAgents` stopped: items (back to pending) and conflict / fix sessions (their file names). */
export interface Stopped {
  readonly issues: readonly number[];
  readonly sessions: readonly string[];
}

/** `the agents of #1, #2 and 1 conflict/fix agent(s) (fix-1)` */
function describeStopped(stopped: Stopped): string {
  const parts = [stopped.issues.length ? `the agents of ${stopped.issues.map((i) => `#${i}`).join(', ')}` : ''];
  if (stopped.sessions.length)
    parts.push(`${stopped.sessions.length} conflict/fix agent(s) (${stopped.sessions.join(', ')})`);
  return parts.filter(Boolean).join(' and ') || 'no agent';
}

/** Cancel the conflict and fix agents state records as dispatched and still running; their file names. */
async function cancelSessions(ctx: Ctx): Promise<string[]> {
  const names: string[] = [];
  for (const session of pendingSessions(ctx)) {
    const executor = executorFor(session.handle.kind);
    if (isEnded(await executor.poll(session.handle))) continue;
    await executor.cancel(session.handle);
    names.push(session.handle.name);
  }
  return names;
}

/**
 * Stop every live agent of the milestone (second Ctrl-C, or `run --stop`): those state records and those only their
 * pid files show (state lost or rebuilt, conflict and fix agents of a runner that died). An agent that ended by
 * itself, before or while it was stopped, stays in progress: the next run judges its result instead of throwing it
 * away.
 */
export async function stopAgents(ctx: Ctx): Promise<Stopped> {
  const killed = new Map<number, number>();
  const sessions = await cancelSessions(ctx);
  // Remote runs (github-actions) have no process here: they are cancelled through their handle.
  for (const st of Object.values(ctx.store.current().items)) {
    if (st.status !== 'in-progress' || !st.handle || st.handle.kind === 'local') continue;
    const executor = executorFor(st.handle.kind, ctx.env);
    if (isEnded(await executor.poll(st.handle))) continue;
    await executor.cancel(st.handle);
    killed.set(st.issue, st.attempts);
  }
  for (const st of liveAgents(ctx)) {
    await killGroup((st.process as AgentProcess).pid, 2000);
    if (!ended(ctx, st)) killed.set(st.issue, st.attempts);
  }
  for (const agent of findLiveAgents(ctx.stateDir)) {
    await killGroup(agent.pid, 2000);
    if (agent.kind === 'session') sessions.push(agent.name);
    else if (readExitCode(runFilesOf(path.dirname(agent.pidFile), agent.name), agent.pid) === null) {
      killed.set(agent.issue, Math.max(killed.get(agent.issue) ?? 0, agent.attempt ?? 0));
    }
  }
  // Stopped on purpose: not a failure; the next run starts them again within a fresh retry budget (past the stopped
  // attempt's files). Written at once: the runner may exit right after (a second Ctrl-C while it is busy).
  await ctx.store.update(
    (s) => {
      for (const [issue, attempt] of killed) {
        const it = s.items[String(issue)];
        // A stray agent of an item already judged does not reopen it.
        if (!it || (it.status !== 'in-progress' && it.status !== 'pending')) continue;
        const attempts = Math.max(it.attempts, attempt);
        Object.assign(it, { status: 'pending', process: null, attempts, attemptBase: attempts });
      }
    },
    { durable: true },
  );
  return { issues: [...killed.keys()].sort((a, b) => a - b), sessions };
}

/**
 * `run --stop` when state.json cannot be used: every agent its pid file shows is stopped; the next run rebuilds the
 * state.
 */
export async function stopByPidFiles(stateDir: string): Promise<Stopped> {
  const issues = new Set<number>();
  const sessions: string[] = [];
  for (const agent of findLiveAgents(stateDir)) {
    await killGroup(agent.pid, 2000);
    if (agent.kind === 'session') sessions.push(agent.name);
    else issues.add(agent.issue);
  }
  return { issues: [...issues].sort((a, b) => a - b), sessions };
}

/**
 * Conflict and fix agents a runner that died left: those state records (their handle) are waited for here, before any
 * step touches the worktree they work in, and their result is used by the step that asked for them (a conflict
 * agent's edits are kept first: the merge queue redoes the merge). Ones only their pid files show (older state, a
 * rebuilt state) are waited for and their result is not used. Within the plan's timeout, counted from their start.
 */
async function settleSessions(ctx: Ctx): Promise<void> {
  const timeoutMs = defaultSettingsFor(ctx).timeoutMs;
  const recorded = pendingSessions(ctx);
  const pidFileOf = (s: (typeof recorded)[number]) => path.resolve(s.handle.dir, `${s.handle.name}.pid`);
  const known = new Set(recorded.map(pidFileOf));
  const live = findLiveAgents(ctx.stateDir).filter((a) => a.kind === 'session');
  if (live.length > 0) {
    const ids = recorded.filter((s) => live.some((a) => path.resolve(a.pidFile) === pidFileOf(s))).map((s) => s.id);
    ctx.events.emit({
      type: 'notice',
      message:
        `waiting for agents a runner that died left running (\`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id, '--stop'])}\` stops them): ` +
        `${live.map(describeLiveAgent).join(', ')}${ids.length ? `; re-attached to ${ids.join(', ')}: their results are used` : ''}`,
    });
  }
  for (const session of recorded) {
    const ended = await waitForSession(ctx, session, timeoutMs);
    if (ended.state === 'succeeded' || ended.state === 'failed') await keepConflictResolution(ctx, session);
  }
  for (const agent of live.filter((a) => !known.has(path.resolve(a.pidFile)))) {
    const proc = { pid: agent.pid, startTime: agent.startTime };
    while (isRunning(proc) && readExitCode(runFilesOf(path.dirname(agent.pidFile), agent.name), agent.pid) === null) {
      if (ctx.signal.aborted)
        throw new InterruptedError('interrupted while waiting for an agent a runner that died left running');
      if (timeoutMs > 0 && Date.now() - Date.parse(agent.startedAt) > timeoutMs) {
        await killGroup(agent.pid);
        break;
      }
      await sleep(200);
    }
  }
}

/** Failed and skipped items go back to pending so this run retries them (docs/steps.md, "Failures and re-runs"). */
async function resetForRetry(ctx: Ctx): Promise<void> {
  await ctx.store.update((s) => {
    for (const it of Object.values(s.items)) {
      // A failed item keeps its failure (text and code) for the retry's prompt; a skipped one's reason goes.
      if (it.status === 'skipped') Object.assign(it, { failureCode: null });
      if (it.status === 'failed' || it.status === 'skipped')
        Object.assign(it, { status: 'pending', attemptBase: it.attempts, skipReason: null, finishSeq: null });
      // An ejected item is worked again on its branch (the failure names the gate it broke), then merged again.
      if (it.status === 'ejected')
        Object.assign(it, { status: 'pending', attemptBase: it.attempts, finishSeq: null, merge: null });
    }
  });
}

/** After a first signal, how long a runner whose agents live stays to hear a second one (which stops them too). */
const SECOND_SIGNAL_MS = 1500;

/** What the work of a command needs of the signal handling. */
interface Signals {
  /**
   * After an interruption, before the run lock is released: while agents live, wait a moment for a second signal,
   * and let the stopping it starts finish (otherwise the runner would be gone before a second Ctrl-C could come).
   */
  settle(): Promise<void>;
}

/** What a second signal stopped. */
interface SignalStop {
  readonly signal: NodeJS.Signals;
  readonly stopped: Stopped;
}

/** Run `fn` with SIGINT/SIGTERM handling: the first stops scheduling, a second stops the agents too. */
async function withSignals<T>(
  io: Io,
  controller: AbortController,
  ctxRef: { ctx: Ctx | null },
  fn: (signals: Signals) => Promise<T>,
): Promise<T> {
  let count = 0;
  let settling = false;
  let stopping: Promise<void> | null = null;
  let heard = (): void => undefined;
  // What a second signal stopped: the run's last word must then not say that agents were left running.
  let stoppedBySignal = null as SignalStop | null;
  const onSignal = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      io.err(`${signal}: stopping; live agents keep running for the next run (press Ctrl-C again to stop them too)`);
      ctxRef.ctx?.events.emit({ type: 'notice', message: `${signal} received: stopping scheduling` });
      controller.abort();
    } else if (ctxRef.ctx && !stopping) {
      const ctx = ctxRef.ctx;
      stopping = stopAgents(ctx).then(async (stopped) => {
        stoppedBySignal = { signal, stopped };
        const what =
          stopped.issues.length || stopped.sessions.length ? describeStopped(stopped) : 'the agents of no item';
        io.err(`stopped ${what}`);
        if (settling) return;
        // Still busy (a gate does not watch the signal): asked twice, the runner does not keep the user waiting. The
        // run's last event and everything state holds are written first.
        ctx.events.emit({
          type: 'run-end',
          exitCode: 130,
          message: `interrupted; the second ${signal} stopped ${what}`,
        });
        await ctx.store.flush();
        await flushOutput();
        process.exit(130);
      });
      heard();
    }
  };
  const settle = async (): Promise<void> => {
    settling = true;
    const ctx = ctxRef.ctx;
    if (!stopping && ctx && (liveAgents(ctx).length > 0 || pendingSessions(ctx).length > 0)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SECOND_SIGNAL_MS);
        heard = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await stopping;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn({ settle });
  } catch (error) {
    const by = stoppedBySignal;
    if (!(error instanceof InterruptedError) || !by) throw error;
    const what = by.stopped.issues.length || by.stopped.sessions.length ? describeStopped(by.stopped) : 'no agent';
    throw new InterruptedError(`interrupted; the second ${by.signal} stopped ${what}: run again to start them afresh`, {
      cause: error,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The place, context and flags a command's work needs. */
interface CommandInput {
  readonly kind: 'run' | 'step';
  readonly args: readonly string[];
  readonly milestone: string;
  readonly flags: Flags;
  readonly io: Io;
  /** The repository's top folder, when the caller has found it already. */
  readonly root?: string;
}

function contextInput(
  input: CommandInput,
  signal: AbortSignal,
  onEvent: ContextInput['onEvent'],
  runLock?: ContextInput['runLock'],
): ContextInput {
  const { milestone, flags, io, root } = input;
  return {
    runLock,
    milestone,
    cwd: io.cwd,
    repo: flags.repo,
    root,
    plan: flags.plan,
    options: flags.options,
    signal,
    env: io.env,
    confirm: (q) => (flags.options.yes ? Promise.resolve(true) : io.confirm(q)),
    onEvent,
    entry: io.entry,
  };
}

/**
 * `--dry-run`: each node of the graph, done or what is left, as lines or (`--json`) one JSON document. Reads only: no
 * lock, no events, no state folder or file created or changed (an unusable state.json is shown as it would be healed).
 */
async function dryRun(input: CommandInput): Promise<number> {
  const { flags, io } = input;
  const ctx = await createContext({
    ...contextInput(input, new AbortController().signal, (e) => {
      if (e.type === 'notice') io.err(e.message);
    }),
    readOnly: true,
  });
  const graph = compileGraph(ctx.plan, ctx.options.schedule ?? ctx.plan.defaults.schedule);
  const checks: Array<{ readonly id: string; readonly done: boolean; readonly reason: string | null }> = [];
  for (const node of graph.nodes) {
    // Nobody reads what comes next (`--dry-run | head -1`): stop quietly.
    if (io.outClosed?.aborted) return 0;
    const check = await STEPS[node.step]
      .check(ctx, node.scope)
      .catch((e: Error) => ({ kind: 'todo' as const, reason: e.message }));
    let reason = check.kind === 'todo' ? check.reason : null;
    // What a landing through a pull request would do on GitHub (read only): the plan's part nobody sees locally.
    if (reason !== null && node.step === 'land' && landModeOf(ctx) === 'pull-request')
      // Loaded here only: it brings Octokit.
      reason = `${reason}; ${await (await import('../landing/land-preview.ts')).previewPullRequestLanding(ctx)}`;
    checks.push({ id: node.id, done: check.kind === 'done', reason });
    if (!flags.json) io.out(`${node.id}: ${reason === null ? 'done' : `todo (${reason})`}`);
  }
  if (flags.json) {
    const json = graphToJson(ctx.plan, graph) as { nodes: Array<{ id: string }> };
    io.out(
      JSON.stringify(
        {
          ...json,
          dryRun: true,
          nodes: json.nodes.map((n, i) => ({
            ...n,
            done: checks[i]?.done ?? false,
            reason: checks[i]?.reason ?? null,
          })),
        },
        null,
        2,
      ),
    );
  }
  return 0;
}

/**
 * The refusal when state.json cannot be used and cannot be rebuilt: exit 2, the live agents of the milestone (from
 * their pid files) and the command that stops them. Nothing was started; no advice here can start a second agent.
 */
function refusal(place: MilestonePlace, error: UnreadableStateError, io: Io): BadInputError {
  const n = place.plan.milestone.id;
  const live = findLiveAgents(place.stateDir);
  const agents = live.length
    ? `agents of milestone ${n} still run: ${live.map(describeLiveAgent).join(', ')}; stop them with \`${commandLine(io.entry, 'run', [n, '--stop'])}\` (it needs no state)`
    : `no agent of milestone ${n} runs`;
  return new BadInputError(`${error.message}; nothing was started; ${agents}; fix the cause, then run again`, {
    cause: error,
  });
}

/** Shared by run and step: lock, context (healing an unusable state.json), events, the work, the attention report. */
export async function runCommand(
  kind: 'run' | 'step',
  args: readonly string[],
  flags: Flags,
  io: Io,
  root?: string,
): Promise<number> {
  const [stepName, milestone] = kind === 'step' ? args : [undefined, args[0]];
  if (kind === 'step' && !STEP_IDS.includes(stepName as StepId)) {
    throw new BadInputError(`unknown step "${stepName ?? ''}"; steps are: ${STEP_IDS.join(', ')}`);
  }
  if (!milestone)
    throw new BadInputError(
      `missing milestone number; ${usageLine(io.entry, kind, kind === 'step' ? ['<step>', '<N>'] : ['<N>'])}`,
    );
  const input: CommandInput = { kind, args, milestone, flags, io, root };
  if (flags.dryRun) return dryRun(input);
  const controller = new AbortController();
  const ref: { ctx: Ctx | null } = { ctx: null };
  const runEvents: StampedEvent[] = [];
  // stdout's reader went away (`run --json | head -1`): the run stops as after one Ctrl-C, and says so once at its end.
  const onOutClosed = (): void => controller.abort();
  io.outClosed?.addEventListener('abort', onOutClosed, { once: true });
  try {
    return await withSignals(io, controller, ref, async (signals) => {
      const place = await placeOf({ milestone, cwd: io.cwd, repo: flags.repo, root, plan: flags.plan });
      mkdirSync(place.stateDir, { recursive: true });
      // The lock comes first: healing an unusable state.json writes it, and only the runner may.
      const lock = acquireRunLock(place.stateDir, place.plan.milestone.id, `${kind} ${args.join(' ')}`);
      try {
        let ctx: Ctx;
        try {
          ctx = await createContext(
            contextInput(
              input,
              controller.signal,
              (e) => {
                if (flags.json) io.out(JSON.stringify(e));
                // `--json` ends with the run's summary (docs/status.md): its events are kept for it.
                if (flags.json) runEvents.push(e);
                if (flags.json && e.type === 'run-end' && ref.ctx)
                  io.out(JSON.stringify(buildRunSummary(ref.ctx.plan, ref.ctx.store.current(), runEvents, e)));
                if (e.type === 'notice' && !flags.json) io.err(e.message);
              },
              lock,
            ),
            place,
          );
        } catch (error) {
          if (!(error instanceof UnreadableStateError)) throw error;
          if (!flags.stop) throw refusal(place, error, io);
          const stopped = await stopByPidFiles(place.stateDir);
          io.err(
            `${error.message}; stopped ${describeStopped(stopped)} (found through their pid files); the next run rebuilds the state`,
          );
          return 0;
        }
        ref.ctx = ctx;
        if (lock.tookOverFrom)
          ctx.events.emit({
            type: 'notice',
            message: `took over a stale run.lock of pid ${lock.tookOverFrom.pid} (started ${lock.tookOverFrom.startedAt})`,
          });
        ctx.events.emit({
          type: 'run-start',
          milestone: ctx.plan.milestone.id,
          command: `${kind} ${args.join(' ')}`,
          pid: process.pid,
        });
        if (flags.stop) {
          const stopped = await stopAgents(ctx);
          io.err(
            stopped.issues.length || stopped.sessions.length
              ? `stopped ${describeStopped(stopped)}; run again to start them afresh`
              : `milestone ${ctx.plan.milestone.id} has no live agent`,
          );
          return finish(ctx, 0);
        }
        if (lock.tookOverFrom) await waitForLeftGit(ctx);
        return await work(ctx, input, stepName as StepId | undefined);
      } finally {
        if (controller.signal.aborted) await signals.settle();
        // What the store holds in memory is written before the lock goes (a failure is said, not thrown over the
        // run's own outcome).
        await ref.ctx?.store.flush().catch((error: unknown) => io.err(`could not write state.json: ${String(error)}`));
        lock.release();
      }
    });
  } catch (error) {
    if (io.outClosed?.aborted && error instanceof InterruptedError) {
      throw new InterruptedError(
        'stdout was closed (EPIPE): stopped; agents still running were left alive: run again to re-attach',
        { cause: error },
      );
    }
    throw error;
  } finally {
    io.outClosed?.removeEventListener('abort', onOutClosed);
  }
}

/** The work of run or step, after the lock and the context: the graph (or one step), then what needs attention. */
async function work(ctx: Ctx, input: CommandInput, stepName: StepId | undefined): Promise<number> {
  const { kind, flags, io } = input;
  try {
    // Conflict and fix agents of a runner that died would share a worktree with the ones this run starts.
    await settleSessions(ctx);
    // And an ejection or a fix attempt such a runner left open is finished before any merge builds on it.
    await finishLeftGatesWork(ctx);
    const renderer = rendererFor(flags, io);
    let waves: number[] | undefined;
    if (kind === 'run') {
      await resetForRetry(ctx);
      const schedule = ctx.options.schedule ?? ctx.plan.defaults.schedule;
      try {
        const outcome = await executeRun(ctx, compileGraph(ctx.plan, schedule), renderer, (line) => io.out(line));
        if (outcome.kind === 'interrupted')
          throw new InterruptedError('interrupted; agents still running were left alive: run again to re-attach');
        if (outcome.kind === 'stopped') throw new NeedsAttentionError(outcome.reason);
      } catch (error) {
        // A run that stops (at land, at a red gate) still tells which items need a human; the exit code stays the
        // stop's (docs/errors.md, "Several things went wrong").
        const pending = itemsNeedingAttention(ctx, false);
        const stop = error instanceof WorkMilestoneError && !(error instanceof InterruptedError);
        if (stop && pending.length && !error.message.includes('needs attention:')) {
          throw withDetail(error, formatAttention(ctx, pending));
        }
        throw error;
      }
    } else {
      const scope = { wave: flags.options.wave ?? undefined, issue: flags.options.item ?? undefined };
      // A step is one node of the waves graph, whatever the schedule of `run`.
      await executeStep(ctx, compileGraph(ctx.plan, 'waves'), stepName as StepId, scope, renderer, (line) =>
        io.out(line),
      );
      if (stepName !== 'wait' && stepName !== 'merge') {
        // Other steps tell only an escalation no command has told yet (its run was killed before its end).
        await tellAttention(
          ctx,
          itemsNeedingAttention(ctx, true).filter((a) => a.status === 'escalated' && !toldBefore(ctx, a)),
        );
        return finish(ctx, 0);
      }
      waves = ctx.plan.waves.map((w) => w.wave).filter((w) => scope.wave === undefined || w === scope.wave);
    }
    // An escalation is told once, by the first run to end after it (one killed before its end did not tell it).
    await tellAttention(
      ctx,
      itemsNeedingAttention(ctx, true, waves).filter(
        (a) => a.status !== 'escalated' || !toldBefore(ctx, a) || kind === 'step',
      ),
    );
    return finish(ctx, 0);
  } catch (error) {
    ctx.events.emit({
      type: 'run-end',
      exitCode: (error as { exitCode?: number }).exitCode ?? 1,
      message: (error as Error).message,
    });
    throw error;
  }
}

/** Whether a command's "needs attention" exit has named this item's escalation already. */
function toldBefore(ctx: Ctx, a: AttentionItem): boolean {
  return ctx.store.current().items[String(a.issue)]?.reported === true;
}

/**
 * Throw the "needs attention" exit for `attention` (nothing when empty); the escalations in it are recorded as told
 * first, so no later command tells them again.
 */
async function tellAttention(ctx: Ctx, attention: readonly AttentionItem[]): Promise<void> {
  if (attention.length === 0) return;
  const escalated = attention.filter((a) => a.status === 'escalated').map((a) => a.issue);
  if (escalated.length)
    await ctx.store.update((s) => {
      for (const issue of escalated) updateItem(s, issue, { reported: true });
    });
  throw new NeedsAttentionError(formatAttention(ctx, attention));
}

function finish(ctx: Ctx, code: number): number {
  ctx.events.emit({ type: 'run-end', exitCode: code });
  return code;
}
