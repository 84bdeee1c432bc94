/** `run.mts <N>` and `step.mts <step> <N>`: take the lock, run the graph or one step, report what needs attention. */
import type { Ctx } from '../context.ts';
import { formatAttention, itemsNeedingAttention } from '../attention.ts';
import { createContext } from '../create-context.ts';
import { executeRun, executeStep, type RendererKind } from '../execute.ts';
import { compileGraph } from '../graph.ts';
import { isRunning, killGroup, readExitCode } from '../agents/process.ts';
import { attemptFiles } from '../item-agent.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { acquireRunLock } from '../lib/run-lock.ts';
import type { AgentProcess, ItemState } from '../lib/state-types.ts';
import { STEP_IDS, type StepId } from '../step.ts';
import { STEPS } from '../steps.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

function rendererFor(flags: Flags, io: Io): RendererKind {
  if (flags.json || io.env.WM_RENDERER === 'silent') return 'silent';
  return io.isTTY && !io.env.CI ? 'default' : 'simple';
}

/** Items whose agent runs now: its process (pid + start time) or group is alive and its wrapper has not written the exit code. */
function liveAgents(ctx: Ctx): ItemState[] {
  return Object.values(ctx.store.current().items).filter((st) => st.status === 'in-progress' && st.process !== null && isRunning(st.process) && !ended(ctx, st));
}

/** Whether the item's current attempt ended on its own (exit code written; what it left in its group is killed when judged). */
function ended(ctx: Ctx, st: ItemState): boolean {
  return readExitCode(attemptFiles(ctx, st.issue, st.attempts)) !== null;
}

/**
 * Stop every live agent of the milestone (second Ctrl-C, or `run --stop`). An agent that ended by itself, before
 * or while it was stopped, stays in progress: the next run judges its result instead of throwing it away.
 */
export async function stopAgents(ctx: Ctx): Promise<number[]> {
  const killed: number[] = [];
  for (const st of liveAgents(ctx)) {
    await killGroup((st.process as AgentProcess).pid, 2000);
    if (!ended(ctx, st)) killed.push(st.issue);
  }
  // Stopped on purpose: not a failure; the next run starts them again within a fresh retry budget.
  await ctx.store.update((s) => {
    for (const issue of killed) Object.assign(s.items[String(issue)] ?? {}, { status: 'pending', process: null, attemptBase: s.items[String(issue)]?.attempts ?? 0 });
  });
  return killed;
}

/** Failed and skipped items go back to pending so this run retries them (DESIGN §4). */
async function resetForRetry(ctx: Ctx): Promise<void> {
  await ctx.store.update((s) => {
    for (const it of Object.values(s.items)) {
      if (it.status === 'failed' || it.status === 'skipped') Object.assign(it, { status: 'pending', attemptBase: it.attempts, skipReason: null, finishSeq: null });
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

/** Run `fn` with SIGINT/SIGTERM handling: the first stops scheduling, a second stops the agents too. */
async function withSignals<T>(io: Io, controller: AbortController, ctxRef: { ctx: Ctx | null }, fn: (signals: Signals) => Promise<T>): Promise<T> {
  let count = 0;
  let settling = false;
  let stopping: Promise<void> | null = null;
  let heard = (): void => undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      io.err(`${signal}: stopping; live agents keep running for the next run (press Ctrl-C again to stop them too)`);
      ctxRef.ctx?.events.emit({ type: 'notice', message: `${signal} received: stopping scheduling` });
      controller.abort();
    } else if (ctxRef.ctx && !stopping) {
      stopping = stopAgents(ctxRef.ctx).then((issues) => {
        io.err(`stopped the agents of ${issues.map((i) => `#${i}`).join(', ') || 'no item'}`);
        // Still busy (a gate does not watch the signal): asked twice, the runner does not keep the user waiting.
        if (!settling) process.exit(130);
      });
      heard();
    }
  };
  const settle = async (): Promise<void> => {
    settling = true;
    if (!stopping && ctxRef.ctx && liveAgents(ctxRef.ctx).length > 0) {
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
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Shared by run and step: context, lock, events, the work, the attention report. */
export async function runCommand(kind: 'run' | 'step', args: readonly string[], flags: Flags, io: Io): Promise<number> {
  const [stepName, milestone] = kind === 'step' ? args : [undefined, args[0]];
  if (kind === 'step' && !STEP_IDS.includes(stepName as StepId)) {
    throw new BadInputError(`unknown step "${stepName ?? ''}"; steps are: ${STEP_IDS.join(', ')}`);
  }
  if (!milestone) throw new BadInputError(`missing milestone number; usage: ${kind === 'step' ? 'step.mts <step> <N>' : 'run.mts <N>'}`);
  const controller = new AbortController();
  const ref: { ctx: Ctx | null } = { ctx: null };
  const escalated = new Set<number>();
  return withSignals(io, controller, ref, async (signals) => {
    const ctx = await createContext({
      milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan, options: flags.options, signal: controller.signal, env: io.env,
      confirm: (q) => (flags.options.yes ? Promise.resolve(true) : io.confirm(q)),
      onEvent: (e) => {
        if (flags.json) io.out(JSON.stringify(e));
        if (e.type === 'item' && e.status === 'escalated') escalated.add(e.issue);
        if (e.type === 'notice' && !flags.json) io.err(e.message);
      },
    });
    ref.ctx = ctx;
    const lock = acquireRunLock(ctx.stateDir, ctx.plan.milestone.id, `${kind} ${args.join(' ')}`);
    if (lock.tookOverFrom) ctx.events.emit({ type: 'notice', message: `took over a stale run.lock of pid ${lock.tookOverFrom.pid} (started ${lock.tookOverFrom.startedAt})` });
    ctx.events.emit({ type: 'run-start', milestone: ctx.plan.milestone.id, command: `${kind} ${args.join(' ')}`, pid: process.pid });
    if (flags.stop) {
      try {
        const stopped = await stopAgents(ctx);
        io.err(stopped.length ? `stopped the agents of ${stopped.map((i) => `#${i}`).join(', ')}; run again to start them afresh` : `milestone ${ctx.plan.milestone.id} has no live agent`);
        return finish(ctx, 0);
      } finally {
        lock.release();
      }
    }
    try {
      const graph = compileGraph(ctx.plan);
      if (flags.dryRun) {
        for (const node of graph.nodes) {
          const check = await STEPS[node.step].check(ctx, node.scope).catch((e: Error) => ({ kind: 'todo' as const, reason: e.message }));
          io.out(`${node.id}: ${check.kind === 'done' ? 'done' : `todo (${check.reason})`}`);
        }
        return 0;
      }
      const renderer = rendererFor(flags, io);
      let waves: number[] | undefined;
      if (kind === 'run') {
        await resetForRetry(ctx);
        try {
          await executeRun(ctx, graph, renderer);
        } catch (error) {
          // A run that stops (at land, say) still tells which items need a human.
          const pending = itemsNeedingAttention(ctx, false);
          if (error instanceof NeedsAttentionError && pending.length && !error.message.includes('needs attention:')) {
            throw new NeedsAttentionError(`${error.message}\n${formatAttention(ctx, pending)}`);
          }
          throw error;
        }
      } else {
        const scope = { wave: flags.options.wave ?? undefined, issue: flags.options.item ?? undefined };
        await executeStep(ctx, graph, stepName as StepId, scope, renderer);
        if (stepName !== 'wait' && stepName !== 'merge') return finish(ctx, 0);
        waves = ctx.plan.waves.map((w) => w.wave).filter((w) => scope.wave === undefined || w === scope.wave);
      }
      const attention = itemsNeedingAttention(ctx, true, waves).filter((a) => a.status !== 'escalated' || escalated.has(a.issue) || kind === 'step');
      if (attention.length > 0) throw new NeedsAttentionError(formatAttention(ctx, attention));
      return finish(ctx, 0);
    } catch (error) {
      ctx.events.emit({ type: 'run-end', exitCode: (error as { exitCode?: number }).exitCode ?? 1, message: (error as Error).message });
      throw error;
    } finally {
      if (controller.signal.aborted) await signals.settle();
      lock.release();
    }
  });
}

function finish(ctx: Ctx, code: number): number {
  ctx.events.emit({ type: 'run-end', exitCode: code });
  return code;
}
