/**
 * A gate red where the milestone started (or on the tip it last passed on) is not the milestone's doing: the gate, or
 * what it needs (a tool, a service, a submodule), broke under it. Fix agents sent at the milestone's code would be
 * paid for nothing, and may "fix" it by turning tests off: the run stops instead (exit 1), the work kept.
 */
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { commandLine } from '../lib/command-words.ts';
import { StepFailedError } from '../lib/errors.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import type { GateResult } from '../lib/state-types.ts';
import { runGateAt, type PhasedGate } from './bisect-run.ts';

/** The run's stop for gate `red`, red on `base` too (its log there, when known). */
export function redBeforeTheMilestone(ctx: Ctx, red: GateResult, base: string, log: string | null): StepFailedError {
  const where =
    base === ctx.store.current().branch?.base
      ? `on ${MAIN_BRANCH} as the milestone started from it (${base.slice(0, 10)})`
      : `on ${base.slice(0, 10)}, where it passed before`;
  return new StepFailedError(
    `gate "${red.name}" (${red.phase}) fails ${where} too, before any change it is checked for: this milestone did ` +
      `not break it, so no fix agent was started${log ? `; log: ${log}` : ''}; fix the gate or what it needs (a tool, ` +
      `a service, a submodule), then run \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id])}\` again; to ` +
      `fix the code, commit in ${ctx.integrationWorktree} (a fix on ${MAIN_BRANCH} is brought in only when landing) ` +
      `and run \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id, '--adopt'])}\``,
  );
}

/**
 * Throw the run's stop when `gate` (one without `files:`, which says something on any tree) is red on the milestone's
 * base as well: run there once, in the scratch worktree beside the integration worktree (the caller removes it).
 */
export async function stopWhenRedOnBase(ctx: Ctx, gate: PhasedGate): Promise<void> {
  const base = ctx.store.current().branch?.base;
  if (!base || gate.gate.files.length > 0) return;
  const red = await runGateAt(ctx, gate, base, path.join(ctx.stateDir, 'gates', `base-${base.slice(0, 12)}`));
  if (red) throw redBeforeTheMilestone(ctx, red, base, red.log);
}
