/** `run.mts <N>` and `step.mts <step> <N>`: take the lock, run the graph or one step, report what needs attention. */
import type { Ctx } from '../context.ts';
import { formatAttention, itemsNeedingAttention } from '../attention.ts';
import { createContext, refuseInsideAgent } from '../create-context.ts';
import { executeRun, executeStep, type RendererKind } from '../execute.ts';
import { compileGraph } from '../graph.ts';
import { killGroup } from '../agents/process.ts';
import { BadInputError, NeedsAttentionError } from '../lib/errors.ts';
import { acquireRunLock } from '../lib/run-lock.ts';
import { STEP_IDS, type StepId } from '../step.ts';
import { STEPS } from '../steps.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

function rendererFor(flags: Flags, io: Io): RendererKind {
  if (flags.json || io.env.WM_RENDERER === 'silent') return 'silent';
  return io.isTTY && !io.env.CI ? 'default' : 'simple';
}

/** Stop every live agent of the milestone (second Ctrl-C, or `run --stop`). */
export async function stopAgents(ctx: Ctx): Promise<number[]> {
  const killed: number[] = [];
  for (const st of Object.values(ctx.store.current().items)) {
    if (st.status === 'in-progress' && st.process) {
      await killGroup(st.process.pid, 2000);
      killed.push(st.issue);
    }
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

/** Run `fn` with SIGINT/SIGTERM handling: the first stops scheduling, a second stops the agents too. */
async function withSignals<T>(io: Io, controller: AbortController, ctxRef: { ctx: Ctx | null }, fn: () => Promise<T>): Promise<T> {
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count++;
    if (count === 1) {
      io.err(`${signal}: stopping; live agents keep running for the next run (press Ctrl-C again to stop them too)`);
      ctxRef.ctx?.events.emit({ type: 'notice', message: `${signal} received: stopping scheduling` });
      controller.abort();
    } else if (ctxRef.ctx) {
      void stopAgents(ctxRef.ctx).then((issues) => {
        io.err(`stopped the agents of ${issues.map((i) => `#${i}`).join(', ') || 'no item'}`);
        process.exit(130);
      });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn();
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
  return withSignals(io, controller, ref, async () => {
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
    refuseInsideAgent(ctx.repo, io.env);
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
      lock.release();
    }
  });
}

function finish(ctx: Ctx, code: number): number {
  ctx.events.emit({ type: 'run-end', exitCode: code });
  return code;
}
