/**
 * Facts read from the files git itself reads (the files ref backend), without spawning git: a loose ref, a linked
 * worktree's HEAD file, MERGE_HEAD. Each answers only when the file settles the question; otherwise (a packed or
 * symbolic ref, a reftable repository, anything unexpected) it says "unknown" and the caller asks git
 * (docs/performance.md, "Git calls").
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readRegularFileSync } from './regular-file.ts';

const SHA_LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\n$/;

/**
 * The sha of the loose ref file `<commonDir>/<ref>` (`refs/heads/…`), which git reads before `packed-refs`; null
 * when there is no such regular file or it holds anything but a sha (a symbolic ref, a reftable repository).
 */
export function looseRef(commonDir: string, ref: string): string | null {
  if (!ref.startsWith('refs/') || ref.includes('..')) return null;
  try {
    const file = path.join(commonDir, ref);
    if (!lstatSync(file).isFile()) return null;
    return SHA_LINE.exec(readRegularFileSync(file))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether `ref` surely does not exist: a files-backend repository (no `reftable` folder) with no loose file for it
 * and no line naming it in `packed-refs`. False means "maybe": ask git.
 */
export function refSurelyAbsent(commonDir: string, ref: string): boolean {
  if (!ref.startsWith('refs/') || ref.includes('..')) return false;
  if (existsSync(path.join(commonDir, 'reftable')) || !existsSync(path.join(commonDir, 'refs', 'heads'))) return false;
  try {
    lstatSync(path.join(commonDir, ref));
    return false;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return false;
  }
  let packed: string;
  try {
    packed = readRegularFileSync(path.join(commonDir, 'packed-refs'));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  return !packed.includes(` ${ref}\n`);
}

/**
 * What the ref files say of `ref`: its sha (a loose file holds it), null (it surely does not exist), or undefined
 * (a packed or symbolic ref, a reftable repository: only git can tell).
 */
export function refFromFiles(commonDir: string, ref: string): string | null | undefined {
  return looseRef(commonDir, ref) ?? (refSurelyAbsent(commonDir, ref) ? null : undefined);
}

/** A linked worktree's own git dir: the folder its `.git` file names (null for the main worktree: ask git there). */
export function gitDirOf(worktree: string): string | null {
  const dotGit = path.join(worktree, '.git');
  try {
    if (!lstatSync(dotGit).isFile()) return null;
    const named = /^gitdir: (.+)$/m.exec(readRegularFileSync(dotGit));
    return named?.[1] ? path.resolve(worktree, named[1].trim()) : null;
  } catch {
    return null;
  }
}

/** The branch (short name) a linked worktree's HEAD file names (`ref: refs/heads/<branch>`); null for anything else. */
export function headFileBranch(worktree: string): string | null {
  const dir = gitDirOf(worktree);
  if (!dir) return null;
  try {
    return /^ref: refs\/heads\/(\S+)\n$/.exec(readRegularFileSync(path.join(dir, 'HEAD')))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * The sha a linked worktree's HEAD resolves to when its HEAD file names a branch with a loose ref; null: ask git. The
 * object
 * itself is not looked at (git's `rev-parse HEAD` does not either).
 */
export function headFileSha(worktree: string, commonDir: string): string | null {
  const branch = headFileBranch(worktree);
  return branch ? looseRef(commonDir, `refs/heads/${branch}`) : null;
}

/** Whether a linked worktree surely has no merge in progress (no MERGE_HEAD file in its git dir); false: ask git. */
export function surelyNoMergeHead(worktree: string): boolean {
  const dir = gitDirOf(worktree);
  return dir !== null && !existsSync(path.join(dir, 'MERGE_HEAD'));
}

/**
 * Whether `git worktree prune` would surely remove nothing: every admin folder under `<commonDir>/worktrees` is
 * locked or has a `gitdir` file naming a `.git` that exists (prune removes exactly the others). False: prune.
 */
export function surelyNothingToPrune(commonDir: string): boolean {
  const admin = path.join(commonDir, 'worktrees');
  let names: string[];
  try {
    names = readdirSync(admin);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  for (const name of names) {
    const dir = path.join(admin, name);
    try {
      if (!lstatSync(dir).isDirectory()) return false;
      if (existsSync(path.join(dir, 'locked'))) continue;
      const named = readRegularFileSync(path.join(dir, 'gitdir')).trim();
      if (!named || !existsSync(path.resolve(dir, named))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Whether `worktree` is surely a linked worktree of this repository on `branch`: its `.git` file names an admin folder
 * under `<commonDir>/worktrees` whose `gitdir` names that `.git` back, and its HEAD file names the branch (the files
 * `git worktree list` reads). False: ask git.
 */
export function linkedWorktreeOn(commonDir: string, worktree: string, branch: string): boolean {
  const admin = gitDirOf(worktree);
  if (!admin || path.dirname(admin) !== path.join(commonDir, 'worktrees')) return false;
  try {
    const back = readRegularFileSync(path.join(admin, 'gitdir')).trim();
    if (path.resolve(admin, back) !== path.join(worktree, '.git')) return false;
  } catch {
    return false;
  }
  return headFileBranch(worktree) === branch;
}

/**
 * Whether a linked worktree at `dir` is registered (an admin folder under `<commonDir>/worktrees` whose `gitdir`
 * names `<dir>/.git`, as `git worktree list` reads them); null when a file cannot be read: ask git.
 */
export function worktreeRegistered(commonDir: string, dir: string): boolean | null {
  const admin = path.join(commonDir, 'worktrees');
  let names: string[];
  try {
    names = readdirSync(admin);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? false : null;
  }
  const wanted = path.join(path.resolve(dir), '.git');
  for (const name of names) {
    try {
      const named = readRegularFileSync(path.join(admin, name, 'gitdir')).trim();
      if (path.resolve(admin, name, named) === wanted) return true;
    } catch {
      return null;
    }
  }
  return false;
}
