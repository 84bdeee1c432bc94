/** The paths a `git diff` names, exactly. */
import { StepFailedError } from './errors.ts';
import { failureLines, gitRaw } from './git.ts';

/**
 * The paths `git diff --name-only <args>` names in `dir`, relative to its top: NUL-separated (`-z`: a path git would
 * quote, non-ASCII or with a tab, comes back as it is), without rename detection (a rename names its old path too:
 * the change touches it), no diff program of the repository run.
 */
export async function diffNames(dir: string, args: readonly string[]): Promise<string[]> {
  const out = await gitRaw(dir, ['diff', '--name-only', '--no-renames', '--no-ext-diff', '-z', ...args]);
  if (out.exitCode !== 0)
    throw new StepFailedError(`git diff ${args.join(' ')} failed in ${dir}: ${failureLines(out.stderr, 3)}`);
  return out.stdout.split('\0').filter(Boolean);
}
