/** `gates.mts [<N>]`: run the plan's quality gates in the current checkout, pre-commit style. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { gateOutputTail, runGates } from '../gating/gate-run.ts';
import { findCommonDir, findRepoRoot } from '../lib/git.ts';
import { BadInputError } from '../lib/errors.ts';
import { loadPlanOf } from '../engine/create-context.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** The only plan in plan/, when no milestone is given. */
async function onlyMilestone(io: Io, flags: Flags): Promise<string> {
  const repo = await findRepoRoot(path.resolve(io.cwd, flags.repo ?? '.'));
  const found = readdirSync(path.join(repo, 'plan'), { withFileTypes: true })
    .map((e) => /^milestone-(.+)-dispatch\.yaml$/.exec(e.name)?.[1])
    .filter((m): m is string => Boolean(m));
  if (found.length !== 1)
    throw new BadInputError(
      `${found.length === 0 ? 'no plan' : 'several plans'} in plan/; say which milestone: gates.mts <N>`,
    );
  return found[0] as string;
}

/** Run every gate (pre-merge, then post-merge) where the command was started; exit 1 on the first red one. */
export async function gatesCommand(milestone: string | null, flags: Flags, io: Io): Promise<number> {
  const id = milestone ?? (await onlyMilestone(io, flags));
  const { repo, plan } = await loadPlanOf({ milestone: id, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const gates = [
    ...plan.gates.preMerge.map((gate) => ({ gate, phase: 'pre-merge' as const })),
    ...plan.gates.postMerge.map((gate) => ({ gate, phase: 'post-merge' as const })),
  ];
  const logDir = path.join(await findCommonDir(repo), 'work-milestone', 'local-gates');
  const { green, results } = await runGates(gates, repo, logDir, io.env, (r) =>
    io.out(
      `${r.exitCode === 0 ? 'ok  ' : 'FAIL'} ${r.phase} ${r.name} (exit ${r.exitCode}, ${(r.durationMs / 1000).toFixed(1)}s)`,
    ),
  );
  if (green) return 0;
  const red = results[results.length - 1];
  if (red) io.err(`gate "${red.name}" failed with exit ${red.exitCode}:\n${gateOutputTail(red, 30)}`);
  return 1;
}
