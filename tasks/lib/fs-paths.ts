/** Paths on disk: error codes, containment, moves, and symlinks resolved as far as a path exists. */
import { cpSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import path from 'node:path';

/** Whether `e` is a file-system error with one of `codes`. */
export function isCode(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** Now as a part of a file name (`2026-12-03T10-35-53-049Z`): what is kept aside is named by when it was. */
export function fileStamp(at: Date = new Date()): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

/** Move `from` to `to` (its folder made), copying across file systems (a worktree root elsewhere). */
export function moveEntry(from: string, to: string): void {
  mkdirSync(path.dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (error) {
    if (!isCode(error, 'EXDEV')) throw error;
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
    rmSync(from, { recursive: true, force: true });
  }
}

/** Whether `child` is `parent` or inside it (both absolute, symlinks resolved). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * `abs` with symlinks resolved as far as it exists (the rest appended as written); `abs` itself when nothing resolves.
 */
export async function resolveExisting(abs: string): Promise<string> {
  const rest: string[] = [];
  for (let at = abs; ; at = path.dirname(at)) {
    try {
      return path.join(await realpath(at), ...rest);
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR', 'ELOOP') || path.dirname(at) === at) return abs;
      rest.unshift(path.basename(at));
    }
  }
}
