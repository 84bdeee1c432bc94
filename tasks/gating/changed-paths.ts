/** Which paths a local gates run judges: the staged change (as pre-commit does), a range of commits, or everything. */
import { BadInputError } from '../lib/errors.ts';
import { gitRaw } from '../lib/git.ts';
import { diffNames } from '../lib/diff-names.ts';

/**
 * What `gates.mts` runs on: `staged` by default, `--all-files`, or `--from-ref A --to-ref B` (A...B, as pre-commit).
 */
export type ChangeScope =
  | { readonly kind: 'staged' }
  | { readonly kind: 'all-files' }
  | { readonly kind: 'range'; readonly from: string; readonly to: string };

/** The scope the flags ask for; bad input when they disagree. */
export function changeScopeOf(flags: {
  readonly allFiles: boolean;
  readonly fromRef: string | null;
  readonly toRef: string | null;
}): ChangeScope {
  if ((flags.fromRef === null) !== (flags.toRef === null))
    throw new BadInputError('--from-ref and --to-ref go together: give both, or neither');
  if (flags.fromRef !== null && flags.toRef !== null) {
    if (flags.allFiles) throw new BadInputError('--all-files and --from-ref/--to-ref exclude each other; give one');
    return { kind: 'range', from: flags.fromRef, to: flags.toRef };
  }
  return flags.allFiles ? { kind: 'all-files' } : { kind: 'staged' };
}

/** How the scope reads in messages. */
export function describeScope(scope: ChangeScope): string {
  switch (scope.kind) {
    case 'staged':
      return 'the staged change';
    case 'all-files':
      return 'all files';
    case 'range':
      return `${scope.from}...${scope.to}`;
  }
}

async function verifyCommit(repo: string, flag: string, ref: string): Promise<void> {
  // `--` would end the options: a ref that starts with `-` is no ref.
  const out = ref.startsWith('-') ? null : await gitRaw(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (out?.exitCode !== 0) throw new BadInputError(`${flag} "${ref}" is not a commit of ${repo}`);
}

/**
 * The paths the scope changes, relative to the repository root; null for all files (every gate runs). Deleted paths
 * count: unlike pre-commit's hooks, a gate checks the whole checkout, and a deletion can break it.
 */
export async function changedPaths(repo: string, scope: ChangeScope): Promise<readonly string[] | null> {
  switch (scope.kind) {
    case 'all-files':
      return null;
    case 'staged':
      // Against HEAD, or the empty tree before the first commit; in a hook, GIT_INDEX_FILE names the index.
      return diffNames(repo, ['--cached']);
    case 'range':
      await verifyCommit(repo, '--from-ref', scope.from);
      await verifyCommit(repo, '--to-ref', scope.to);
      return diffNames(repo, [`${scope.from}...${scope.to}`]);
  }
}
