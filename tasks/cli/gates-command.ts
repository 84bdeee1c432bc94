/**
 * `gates.mts [<N>]`: run the plan's quality gates in the current checkout, pre-commit style: a gate with `files:`
 * runs only when the change (staged by default, `--all-files`, `--from-ref/--to-ref`) touches one of them.
 * `--install-hook` / `--uninstall-hook` manage the git pre-commit hook that runs it.
 */
import { commandLine } from '../lib/command-words.ts';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { changedPaths, changeScopeOf, describeScope } from '../gating/changed-paths.ts';
import { gateApplies, gateOutputTail, runGates } from '../gating/gate-run.ts';
import { describeLeftProcesses } from '../executors/local/escaped.ts';
import { installHook, uninstallHook } from '../gating/pre-commit-hook.ts';
import { findCommonDir, findRepoRoot } from '../lib/git.ts';
import { BadInputError } from '../lib/errors.ts';
import { loadPlanOf } from '../engine/create-context.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';
import { packagePath } from '../lib/package-root.ts';

/** The package's bin, which the hook runs (absolute: the hook may start in a fresh shell, without npx on PATH). */
const BIN = packagePath('bin', 'work-milestone.mjs');

/** The only plan in plan/, when no milestone is given. */
async function onlyMilestone(io: Io, flags: Flags): Promise<string> {
  const repo = await findRepoRoot(path.resolve(io.cwd, flags.repo ?? '.'));
  const found = readdirSync(path.join(repo, 'plan'), { withFileTypes: true })
    .map((e) => /^milestone-(.+)-dispatch\.yaml$/.exec(e.name)?.[1])
    .filter((m): m is string => Boolean(m));
  if (found.length !== 1)
    throw new BadInputError(
      `${found.length === 0 ? 'no plan' : 'several plans'} in plan/; say which milestone: ${commandLine(io.entry, 'gates', ['<N>'])}`,
    );
  return found[0] as string;
}

/** `--install-hook` / `--uninstall-hook`. */
async function manageHook(milestone: string | null, flags: Flags, io: Io): Promise<number> {
  if (flags.gates.installHook && flags.gates.uninstallHook)
    throw new BadInputError('--install-hook and --uninstall-hook exclude each other; give one');
  const repo = await findRepoRoot(path.resolve(io.cwd, flags.repo ?? '.'));
  if (flags.gates.uninstallHook) {
    const { file, removed } = await uninstallHook(repo);
    io.out(removed ? `removed the pre-commit hook ${file}` : `no pre-commit hook at ${file}; nothing to remove`);
    return 0;
  }
  // Checked now, so that the hook never fails on every commit for a plan that is not there.
  const id = milestone ?? (await onlyMilestone(io, flags));
  await loadPlanOf({ milestone: id, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const args = [
    ...(milestone === null ? [] : [milestone]),
    ...(flags.plan === null ? [] : ['--plan', path.resolve(io.cwd, flags.plan)]),
  ];
  const file = await installHook(repo, { node: process.execPath, bin: BIN, args });
  io.out(
    `installed the pre-commit hook ${file}: each commit runs the gates of milestone ${id} that its change touches`,
  );
  return 0;
}

/**
 * Run the gates (pre-merge, then post-merge) that apply to the change, where the command was started; exit 1 on the
 * first red one.
 */
export async function gatesCommand(milestone: string | null, flags: Flags, io: Io): Promise<number> {
  if (flags.gates.installHook || flags.gates.uninstallHook) return manageHook(milestone, flags, io);
  const scope = changeScopeOf(flags.gates);
  const id = milestone ?? (await onlyMilestone(io, flags));
  const { repo, plan } = await loadPlanOf({ milestone: id, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const changed = await changedPaths(repo, scope);
  const all = [
    ...plan.gates.preMerge.map((gate) => ({ gate, phase: 'pre-merge' as const })),
    ...plan.gates.postMerge.map((gate) => ({ gate, phase: 'post-merge' as const })),
  ];
  const gates = all.filter(({ gate }) => changed === null || gateApplies(gate, changed));
  for (const { gate, phase } of all.filter((g) => !gates.includes(g)))
    io.out(`skip ${phase} ${gate.name} (nothing in ${describeScope(scope)} matches ${gate.files.join(' ')})`);
  if (gates.length === 0) {
    io.out(`no gate applies to ${describeScope(scope)}`);
    return 0;
  }
  const logDir = path.join(await findCommonDir(repo), 'work-milestone', 'local-gates');
  const { green, results, left } = await runGates(gates, repo, logDir, io.env, (r) =>
    io.out(
      `${r.exitCode === 0 ? 'ok  ' : 'FAIL'} ${r.phase} ${r.name} (exit ${r.exitCode}, ${(r.durationMs / 1000).toFixed(1)}s) log: ${r.log}`,
    ),
  );
  if (left.length > 0) io.out(describeLeftProcesses(left, 'the gates', 'their'));
  if (green) return 0;
  const red = results[results.length - 1];
  if (red) io.err(`gate "${red.name}" failed with exit ${red.exitCode} (log: ${red.log}):\n${gateOutputTail(red, 30)}`);
  return 1;
}
