/**
 * A conflict-resolution or fix agent the runner waits for (docs/steps.md: merge, gates; docs/executors.md): same
 * adapters and executors as items. Its handle is in `state.sessions` before it starts, so a runner that died while it
 * worked re-attaches to it (waits for the same process and uses its result) instead of paying for a second one.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adapterFor } from '../agents/adapters.ts';
import { runFilesOf } from './local/process.ts';
import { executorFor } from './registry.ts';
import { describeLeftProcesses } from './local/escaped.ts';
import { formatBytes } from '../lib/byte-size.ts';
import { correlationId, isEnded, type AgentRunResult, type AgentStatus } from './types.ts';
import { boundReport, parseReport } from '../agents/completion-report.ts';
import type { AgentOutcome, AgentRole } from '../agents/types.ts';
import type { Ctx } from '../engine/context.ts';
import { agentEnv } from '../lib/child-env.ts';
import { formatDuration } from '../lib/duration.ts';
import { createFileExclusive } from '../lib/atomic-file.ts';
import { InterruptedError } from '../lib/errors.ts';
import { agentBudgetUsd, assertWithinBudget } from '../lib/run-budget.ts';
import type { AgentSettings } from '../lib/plan/types.ts';
import type { AgentSessionRecord, ItemReport } from '../lib/state-types.ts';
import { removeStaleLocks } from '../lib/stale-locks.ts';

/** What a session is for. */
export interface SessionRequest {
  readonly role: Exclude<AgentRole, 'item'>;
  /** The item it is about (0 for the milestone's gates). */
  readonly issue: number;
  readonly title: string;
  readonly wave: number;
  readonly worktree: string;
  readonly branch: string;
  readonly prompt: string;
  readonly settings: AgentSettings;
  /** Folder for its files, and the name they start with (`fix-<sha>-1`); each session adds its own number. */
  readonly dir: string;
  readonly name: string;
  /** What it works on: a recorded session of the same role and issue with another key is not re-attached to. */
  readonly key?: string;
}

/** The session's outcome (its text a bounded tail of the output) and its report, capped as an item's. */
export interface SessionResult {
  readonly outcome: AgentOutcome;
  readonly report: ItemReport | null;
}

/** A session whose handle is recorded: dispatched, its result not used yet. */
export type PendingSession = AgentSessionRecord & {
  readonly id: string;
  readonly handle: NonNullable<AgentSessionRecord['handle']>;
};

/**
 * Files no earlier session used: the first `<name>-<k>` of `dir` with none of its files, claimed by creating its
 * prompt exclusively. A caller may repeat a name (`run` again after red gates asks for the same fix attempt);
 * reusing its files would read the earlier process's exit code and output as this one's.
 */
async function claimSessionFiles(
  dir: string,
  name: string,
  prompt: string,
): Promise<{ name: string; promptFile: string }> {
  await mkdir(dir, { recursive: true });
  for (let k = 1; ; k++) {
    const files = runFilesOf(dir, `${name}-${k}`);
    const promptFile = path.join(dir, `${name}-${k}.prompt.md`);
    if ([files.exit, `${files.exit}.tmp`, files.pid, files.stdout, files.stderr, promptFile].some((f) => existsSync(f)))
      continue;
    if (!(await createFileExclusive(promptFile, prompt))) continue;
    return { name: `${name}-${k}`, promptFile };
  }
}

/** Sessions whose handle is recorded and whose result was not used yet (all roles, or those of `role` and `issue`). */
export function pendingSessions(ctx: Ctx, role?: SessionRequest['role'], issue?: number): PendingSession[] {
  return (ctx.store.current().sessions ?? []).filter(
    (s): s is PendingSession =>
      s.status === 'dispatched' &&
      s.id !== undefined &&
      s.handle !== undefined &&
      (role === undefined || (s.role === role && s.issue === issue)),
  );
}

/** Update the recorded session `id`. */
async function updateSession(ctx: Ctx, id: string, change: Partial<AgentSessionRecord>): Promise<void> {
  await ctx.store.update((s) => {
    s.sessions = (s.sessions ?? []).map((r) => (r.id === id ? { ...r, ...change } : r));
  });
}

/** Record what the session cost and that its result was used (or given up). */
async function endSession(ctx: Ctx, session: PendingSession, outcome: AgentOutcome): Promise<void> {
  // Conflict and fix agents work in the integration worktree: one stopped while its git ran there left a lock.
  removeStaleLocks(ctx.integrationWorktree, ctx.commonDir, ctx.plan.milestone.integrationBranch, (message) =>
    ctx.events.emit({ type: 'notice', message }),
  );
  await updateSession(ctx, session.id, {
    status: 'ended',
    ok: outcome.ok,
    costUsd: outcome.costUsd,
    turns: outcome.turns,
    at: new Date().toISOString(),
  });
}

/** A failed outcome without output. */
function noOutcome(failure: string): AgentOutcome {
  return { ok: false, text: '', failure, costUsd: null, turns: null, sessionId: null, usage: null, denials: [] };
}

/** Record a session's handle (before its agent starts) and start it. */
async function dispatchSession(ctx: Ctx, req: SessionRequest): Promise<PendingSession> {
  const claimed = await claimSessionFiles(req.dir, req.name, req.prompt);
  const adapter = adapterFor(req.settings.agent);
  const milestone = ctx.plan.milestone.id;
  const maxBudgetUsd = agentBudgetUsd(req.settings.maxBudgetUsd, ctx.plan, ctx.store.current());
  const settings = { ...req.settings, maxBudgetUsd };
  const spec = adapter.launch({ ...req, settings, promptFile: claimed.promptFile, milestone, edits: [] }, ctx.env);
  const n = (ctx.store.current().sessions ?? []).filter((s) => s.role === req.role && s.issue === req.issue).length + 1;
  const id = correlationId(milestone, req.issue, req.role, n);
  const env = agentEnv(ctx.env, {
    WM_PROMPT_FILE: claimed.promptFile,
    WM_ISSUE: String(req.issue),
    WM_TITLE: req.title,
    WM_WORKTREE: req.worktree,
    WM_BRANCH: req.branch,
    WM_WAVE: String(req.wave),
    WM_MILESTONE: milestone,
    WM_ROLE: req.role,
    WM_AGENT_ID: id,
  });
  let recorded: PendingSession | null = null;
  const dispatched = executorFor('local').dispatch(
    { id, agent: req.settings.agent, launch: spec, cwd: req.worktree, env, dir: req.dir, name: claimed.name },
    async (handle) => {
      recorded = {
        role: req.role,
        issue: req.issue,
        ok: false,
        costUsd: null,
        turns: null,
        at: new Date().toISOString(),
        id,
        handle,
        status: 'dispatched',
        ...(req.key === undefined ? {} : { key: req.key }),
      };
      const record = recorded;
      await ctx.store.update((s) => {
        s.sessions = [...(s.sessions ?? []), record];
      });
    },
  );
  try {
    await dispatched;
  } catch (error) {
    // Nothing runs: its record is closed, so no later run waits for it.
    if (recorded) await endSession(ctx, recorded, noOutcome(`could not start: ${(error as Error).message}`));
    throw error;
  }
  return recorded as unknown as PendingSession;
}

/**
 * Wait until the session's agent has ended: a timeout (from its start) or more output than the plan's `max-output`
 * cancels it; an interruption leaves it running for the next run to re-attach to.
 */
export async function waitForSession(ctx: Ctx, session: PendingSession, timeoutMs: number): Promise<AgentStatus> {
  const executor = executorFor(session.handle.kind);
  for (;;) {
    const status = await executor.poll(session.handle);
    const limitBytes = ctx.plan.defaults.maxOutputBytes;
    if ((status.state === 'succeeded' || status.state === 'failed') && (status.outputBytes ?? 0) > limitBytes)
      return { state: 'lost', reason: `printed more than ${formatBytes(limitBytes)} (max-output)`, overLimit: true };
    if (isEnded(status)) return status;
    if (ctx.signal.aborted)
      throw new InterruptedError(
        `interrupted during the ${session.role} agent ${session.id}; it keeps running and the next run re-attaches to it`,
      );
    // A local agent's limit counts from when the runner recorded it, before it started (nothing of the agent's can
    // move that); a remote one's from when its job started (a queue can hold it long before).
    const since =
      status.state === 'running' && session.handle.kind !== 'local'
        ? Date.parse(status.startedAt)
        : Date.parse(session.at);
    if (timeoutMs > 0 && Date.now() - since > timeoutMs) {
      await executor.cancel(session.handle);
      return { state: 'lost', reason: `timed out after ${formatDuration(timeoutMs)}` };
    }
    if (status.state === 'running' && (status.outputBytes ?? 0) > limitBytes) {
      await executor.cancel(session.handle);
      return { state: 'lost', reason: `printed more than ${formatBytes(limitBytes)} (max-output)`, overLimit: true };
    }
    await sleep(200);
  }
}

/** Wait for the session, collect its result, record it as used. */
async function finishSession(ctx: Ctx, session: PendingSession, timeoutMs: number): Promise<SessionResult> {
  const ended = await waitForSession(ctx, session, timeoutMs);
  const collected: AgentRunResult = await executorFor(session.handle.kind).collect(session.handle);
  if (collected.left)
    ctx.events.emit({
      type: 'notice',
      message: `the ${session.role} agent ${session.id}: ${describeLeftProcesses(collected.left)}`,
    });
  const outcome: AgentOutcome =
    ended.state === 'lost' && (collected.exitCode === null || ended.overLimit === true)
      ? { ...collected.outcome, failure: `no result: ${ended.reason}` }
      : collected.outcome;
  ctx.events.emit({
    type: 'agent-exited',
    issue: session.issue,
    role: session.role,
    exitCode: collected.exitCode,
    detail: outcome.failure ?? undefined,
  });
  await endSession(ctx, session, outcome);
  // The report as an item's is kept: capped, pointing at the output file for the rest (docs/limits.md).
  const report = outcome.text ? parseReport(outcome.text) : null;
  return {
    outcome,
    report: report && boundReport(report, outcome.outputFile ? `full text in ${outcome.outputFile}` : undefined),
  };
}

/**
 * The recorded session of this role and issue a runner that died left, when its result can be used: it is waited
 * for and collected. One lost (gone without a result), stopped, or working on something else is given up (null).
 */
export async function resumeSession(
  ctx: Ctx,
  role: SessionRequest['role'],
  issue: number,
  timeoutMs: number,
  key?: string,
): Promise<SessionResult | null> {
  for (const session of pendingSessions(ctx, role, issue)) {
    const status = await executorFor(session.handle.kind).poll(session.handle);
    const stale = key !== undefined && session.key !== undefined && session.key !== key;
    if (status.state === 'lost' || status.state === 'cancelled' || stale) {
      if (stale && !isEnded(status)) await executorFor(session.handle.kind).cancel(session.handle);
      const why = stale
        ? 'it worked on something that changed since'
        : status.state === 'lost'
          ? status.reason
          : 'stopped';
      ctx.events.emit({
        type: 'notice',
        message: `the ${role} agent ${session.id} is not re-attached (${why}); a new one runs`,
      });
      await endSession(ctx, session, (await executorFor(session.handle.kind).collect(session.handle)).outcome);
      continue;
    }
    const pid = status.state === 'running' ? ` (pid ${status.pid ?? '?'})` : '';
    ctx.events.emit({
      type: 'notice',
      message: `re-attached to the ${role} agent ${session.id}${pid} a runner that died left (${status.state}); using its result`,
    });
    return finishSession(ctx, session, timeoutMs);
  }
  return null;
}

/** Run an agent and wait for it (timeout cancels it): a recorded one of the same role and issue is re-attached to. */
export async function runAgentSession(ctx: Ctx, req: SessionRequest): Promise<SessionResult> {
  const resumed = await resumeSession(ctx, req.role, req.issue, req.settings.timeoutMs, req.key);
  if (resumed) return resumed;
  assertWithinBudget(ctx.plan, ctx.store.current(), `the ${req.role} agent (${req.title})`);
  const session = await dispatchSession(ctx, req);
  const status = await executorFor(session.handle.kind).poll(session.handle);
  const pid = status.state === 'running' ? (status.pid ?? 0) : 0;
  ctx.events.emit({ type: 'agent-spawned', issue: req.issue, role: req.role, pid, attempt: 1 });
  return finishSession(ctx, session, req.settings.timeoutMs);
}
