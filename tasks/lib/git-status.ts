/**
 * `git status` of a worktree, read as a stream: an agent can leave millions of untracked files (an `npm install`
 * where node_modules is not ignored), so only the first paths are kept and the rest counted (docs/limits.md).
 */
import { LIMITS } from './bounded-text.ts';
import { streamGitLines } from './git-lines.ts';

/** Paths with uncommitted changes: the first `LIMITS.statusEntries` of them; `total` counts all. */
export interface DirtyPaths extends ReadonlyArray<string> {
  readonly total: number;
}

/** A list of paths that counts past what it keeps. */
class PathList {
  readonly paths: string[] = [];
  total = 0;
  add(path: string): void {
    this.total += 1;
    if (this.paths.length < LIMITS.statusEntries) this.paths.push(path);
  }
  done(): DirtyPaths {
    return Object.assign(this.paths, { total: this.total });
  }
}

/**
 * Paths with uncommitted changes (tracked or untracked, not ignored; tracked only with `untracked: false`): the
 * first `LIMITS.statusEntries`, and how many there are.
 */
export async function dirtyPaths(cwd: string, options: { readonly untracked?: boolean } = {}): Promise<DirtyPaths> {
  const untracked = options.untracked === false ? '--untracked-files=no' : '--untracked-files=all';
  const list = new PathList();
  // A rename or copy entry is followed by its source path, which is not a change of its own.
  let skipNext = false;
  await streamGitLines(
    cwd,
    ['status', '--porcelain', '-z', untracked],
    (entry) => {
      if (skipNext || entry === '') return void (skipNext = false);
      list.add(entry.slice(3));
      skipNext = /^[RC]/.test(entry);
    },
    { separator: '\0' },
  );
  return list.done();
}

/** A worktree's branch, HEAD and uncommitted paths, from one `git status`. */
export interface WorktreeStatus {
  /** The branch checked out (short name), or null for a detached HEAD. */
  readonly branch: string | null;
  /** HEAD's sha, or null on an unborn branch. */
  readonly head: string | null;
  /** Paths with uncommitted changes (tracked or untracked, not ignored), as `dirtyPaths` gives them. */
  readonly dirty: DirtyPaths;
}

/** Fields before the path in `git status --porcelain=v2` entries: ordinary, renamed/copied, unmerged. */
const V2_FIELDS: Readonly<Record<string, number>> = { '1': 8, '2': 9, u: 10 };

/**
 * What `dirtyPaths` and `symbolic-ref HEAD` and `rev-parse HEAD` tell, in one call (`status --porcelain=v2 --branch`).
 */
export async function worktreeStatus(cwd: string): Promise<WorktreeStatus> {
  let branch: string | null = null;
  let head: string | null = null;
  const dirty = new PathList();
  let skipNext = false;
  await streamGitLines(
    cwd,
    ['status', '--porcelain=v2', '--branch', '-z', '--untracked-files=all'],
    (entry) => {
      if (skipNext) return void (skipNext = false);
      if (entry.startsWith('# branch.head ')) {
        const name = entry.slice('# branch.head '.length);
        branch = name === '(detached)' ? null : name;
      } else if (entry.startsWith('# branch.oid ')) {
        const oid = entry.slice('# branch.oid '.length);
        head = oid === '(initial)' ? null : oid;
      } else if (entry.startsWith('? ')) {
        dirty.add(entry.slice(2));
      } else {
        const fields = V2_FIELDS[entry.slice(0, entry.indexOf(' '))];
        if (fields === undefined) return;
        let at = 0;
        for (let n = 0; n < fields; n++) at = entry.indexOf(' ', at) + 1;
        dirty.add(entry.slice(at));
        // A rename or copy is followed by its source path.
        skipNext = entry.startsWith('2 ');
      }
    },
    { separator: '\0' },
  );
  return { branch, head, dirty: dirty.done() };
}
