/** gates: pre-merge then post-merge gates on integration HEAD; red → fix agent, at most max-fix-attempts, then exit 1. */
import path from 'node:path';
import { REPORT_FORMAT } from '../agents/prompt.ts';
import { resumeSession, runAgentSession } from '../executors/agent-session.ts';
import type { Ctx } from '../engine/context.ts';
import { defaultSettingsFor } from '../items/agent-settings.ts';
import { explainGateFailure, gateApplies, gateOutputTail, runGates } from '../gating/gate-run.ts';
import { StepFailedError } from '../lib/errors.ts';
import { dirtyPaths, git, isAncestor, revParse } from '../lib/git.ts';
import type { GateResult } from '../lib/state-types.ts';
import { changeIntegration } from '../guards/refs-guard.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { commandLine } from '../lib/command-words.ts';

/** The gates of the plan that apply to the change since the milestone's base. */
async function applicableGates(ctx: Ctx) {
  const base = ctx.store.current().branch?.base ?? 'HEAD';
  const changed = (await git(ctx.integrationWorktree, ['diff', '--name-only', base, 'HEAD']))
    .split('\n')
    .filter(Boolean);
  return [
    ...ctx.plan.gates.preMerge.map((gate) => ({ gate, phase: 'pre-merge' as const })),
    ...ctx.plan.gates.postMerge.map((gate) => ({ gate, phase: 'post-merge' as const })),
  ].filter(({ gate }) => gateApplies(gate, changed));
}

function fixPrompt(ctx: Ctx, red: GateResult, attempt: number): string {
  return [
    `You are fixing the integration branch ${ctx.plan.milestone.integrationBranch} of milestone ${ctx.plan.milestone.id} (${ctx.plan.milestone.title}).`,
    `Your worktree is ${ctx.integrationWorktree}. Work only there; do not switch branches, do not push.`,
    `The quality gate \`${red.name}\` (${red.phase}) fails with exit code ${red.exitCode}. Its output ends with:\n\n\`\`\`\n${gateOutputTail(red)}\n\`\`\``,
    `Fix the code (not the gate) so that it passes, run the gate yourself, and commit the fix with git. This is fix attempt ${attempt}.`,
    REPORT_FORMAT,
  ].join('\n\n');
}

/** Run the gates on integration HEAD until green, with fix agents between tries; records the green sha. */
export async function makeGatesGreen(ctx: Ctx, progress: Progress): Promise<void> {
  const max = ctx.plan.defaults.maxFixAttempts;
  // A fix agent a runner that died left at work: its result is used, as this run's first fix attempt.
  const resumed = await resumeSession(ctx, 'fix', 0, defaultSettingsFor(ctx).timeoutMs);
  if (resumed) await commitFixLeftovers(ctx, 'Fix gates (re-attached fix agent)');
  for (let attempt = resumed ? 1 : 0; ; attempt++) {
    const sha = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
    const logDir = path.join(ctx.stateDir, 'gates', `${sha.slice(0, 12)}-${attempt}`);
    const { green, results } = await runGates(
      await applicableGates(ctx),
      ctx.integrationWorktree,
      logDir,
      ctx.env,
      (r) => {
        ctx.events.emit({ type: 'gate', name: r.name, phase: r.phase, exitCode: r.exitCode, sha });
        progress.output(`${r.phase} ${r.name}: exit ${r.exitCode}`);
      },
    );
    if (green) {
      await ctx.store.update((s) => {
        s.gates = { sha, at: new Date().toISOString(), results, fixAttempts: attempt };
      });
      return;
    }
    const red = results[results.length - 1] as GateResult;
    if (attempt >= max) {
      const why = explainGateFailure(red);
      throw new StepFailedError(
        `gate "${red.name}" (${red.phase}) still fails on ${ctx.plan.milestone.integrationBranch} after ${max} fix attempt(s) (exit ${red.exitCode}); log: ${red.log}` +
          `${
            why
              ? `\n${why
                  .split('\n')
                  .map((l) => `  | ${l}`)
                  .join('\n')}`
              : ''
          }\nfix it in ${ctx.integrationWorktree} and commit, then run \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id, '--adopt'])}\` (or \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id])}\` to give fix agents another try)`,
      );
    }
    progress.output(`gate ${red.name} is red: fix agent, attempt ${attempt + 1} of ${max}`);
    await runAgentSession(ctx, {
      role: 'fix',
      issue: 0,
      title: `fix ${red.name}`,
      wave: 0,
      worktree: ctx.integrationWorktree,
      branch: ctx.plan.milestone.integrationBranch,
      prompt: fixPrompt(ctx, red, attempt + 1),
      settings: defaultSettingsFor(ctx),
      dir: path.join(ctx.stateDir, 'gates'),
      name: `fix-${sha.slice(0, 12)}-${attempt + 1}`,
    });
    await commitFixLeftovers(ctx, `Fix gate ${red.name} (fix agent, attempt ${attempt + 1})`);
  }
}

/** What the fix agent left uncommitted is its fix too: the gates judge it next. */
async function commitFixLeftovers(ctx: Ctx, message: string): Promise<void> {
  if ((await dirtyPaths(ctx.integrationWorktree)).length === 0) return;
  await git(ctx.integrationWorktree, ['add', '-A']);
  await git(ctx.integrationWorktree, ['commit', '-q', '-m', message]);
}

/** Whether the gates recorded green on the integration branch's current HEAD (or the milestone is already landed). */
export async function gatesGreenOnHead(ctx: Ctx): Promise<boolean> {
  const st = ctx.store.current();
  const head = await revParse(ctx.repo, `refs/heads/${ctx.plan.milestone.integrationBranch}`);
  if (!head) return st.complete !== null || (st.land !== null && st.gates !== null);
  return st.gates?.sha === head;
}

/** gates step. */
export const gates: Step = {
  id: 'gates',
  async check(ctx) {
    if (await gatesGreenOnHead(ctx)) return DONE;
    // After land's backlog commit the head moved by status changes only; land itself checks that.
    const st = ctx.store.current();
    const head = await revParse(ctx.repo, `refs/heads/${ctx.plan.milestone.integrationBranch}`);
    if (st.land && head && (await isAncestor(ctx.repo, head, 'refs/heads/main'))) return DONE;
    return todo(st.gates ? 'integration moved since the gates passed' : 'gates not run');
  },
  async run(ctx, _scope, progress) {
    await changeIntegration(ctx, 'gates', () => makeGatesGreen(ctx, progress));
  },
};
