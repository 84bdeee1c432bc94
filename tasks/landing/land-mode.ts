/** Which landing a run uses, and what a refused direct push to a protected branch says. */
import type { Ctx } from '../engine/context.ts';
import type { LandMode } from '../lib/plan/types.ts';

/** `--land`, else the plan's `defaults.land`. */
export function landModeOf(ctx: Ctx): LandMode {
  return ctx.options.land ?? ctx.plan.defaults.land;
}

/** GitHub's pre-receive refusal of a push to a protected branch (and the generic hook refusal it shows as). */
const PROTECTED = /GH006: Protected branch update failed|protected branch hook declined/i;

/** Whether `stderr` of a refused push says the branch is protected. */
export function isProtectedBranchRefusal(stderr: string): boolean {
  return PROTECTED.test(stderr);
}

/** The message of a direct push a protected branch refused: what happened and the setting that lands anyway. */
export function protectedBranchMessage(branch: string, stderr: string): string {
  const line = stderr.split('\n').find((l) => PROTECTED.test(l)) ?? stderr.trim().split('\n')[0] ?? '';
  return (
    `origin refused the push to ${branch}: it is a protected branch (${line.replace(/^remote:\s*/, '').trim()}); ` +
    `${branch} has the milestone locally, origin does not; land through a pull request instead: ` +
    "set `land: pull-request` in the plan's defaults (or run with --land pull-request) and run again"
  );
}
