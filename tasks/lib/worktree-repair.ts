/**
 * A linked worktree whose git admin folder (`<common dir>/worktrees/<name>`, which its `.git` file names) is gone, or
 * whose HEAD there git cannot read: git no longer sees a worktree there, every git command in it fails ("not a git
 * repository"), and `git worktree add` refuses the folder ("already exists"). Agents run as the same user and can do
 * that.
 */
import { existsSync, realpathSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { fileStamp } from './fs-paths.ts';
import { gitDirOf } from './git-files.ts';
import { readRegularFileSync } from './regular-file.ts';

/**
 * When `dir`, where the runner keeps one of its worktrees of this repository (`commonDir`), is no sound worktree any
 * more (`brokenWorktree`), move its files aside (kept, for a human) and say so ("lost its git admin folder …; its
 * files are kept in …"): the caller then adds the worktree again. Null when it is sound or gone altogether.
 */
export async function setAsideBrokenWorktree(commonDir: string, dir: string): Promise<string | null> {
  const lost = brokenWorktree(commonDir, dir);
  if (lost === null) return null;
  const aside = `${dir}.broken-${fileStamp()}`;
  await rename(dir, aside);
  return `${lost}; its files are kept in ${aside}`;
}

/**
 * What makes `dir` (a folder where the runner keeps one of its worktrees) no worktree git sees ("lost its .git file",
 * "lost its git admin folder …" (gone, or not this repository's), "has a HEAD git cannot read"), or no worktree of
 * this repository any more (its admin folder names another worktree, or another repository as its common dir: git in
 * it would read that repository's branches and trees), or null when it is sound or gone altogether. Reads only.
 */
export function brokenWorktree(commonDir: string, dir: string): string | null {
  if (!existsSync(dir)) return null;
  const admin = gitDirOf(dir);
  if (admin === null) return 'lost its .git file';
  if (path.dirname(admin) !== path.join(commonDir, 'worktrees') || !existsSync(admin))
    return `lost its git admin folder ${admin}`;
  const named = (file: string): string | null => {
    try {
      return path.resolve(admin, readRegularFileSync(path.join(admin, file)).trim());
    } catch {
      return null;
    }
  };
  const back = named('gitdir');
  if (back === null || path.basename(back) !== '.git' || !sameFolder(path.dirname(back), dir))
    return `names the git admin folder ${admin}, which is another worktree's`;
  const common = named('commondir');
  if (common === null || !sameFolder(common, commonDir))
    return `names the git admin folder ${admin}, which belongs to another repository (${common ?? 'none named'})`;
  // A HEAD git cannot read makes git call the folder no repository at all.
  let head = '';
  try {
    head = readRegularFileSync(path.join(admin, 'HEAD'));
  } catch {
    // missing or no file: as unreadable
  }
  return HEAD_TEXT.test(head) ? null : `has a HEAD git cannot read (${path.join(admin, 'HEAD')})`;
}

/** Whether two paths name the same folder (one may be reached through a symbolic link). */
export function sameFolder(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** What a worktree's HEAD file holds: a symbolic ref or a sha (SHA-1 or SHA-256). */
const HEAD_TEXT = /^(ref: refs\/\S+|[0-9a-f]{40}|[0-9a-f]{64})\n?$/;
