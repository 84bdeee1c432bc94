/** Guards on what an agent did (DESIGN resilience): writes outside its worktree, huge files, committed conflict markers. */
import { statSync } from 'node:fs';
import path from 'node:path';
import { dirtyPaths, git, gitRaw } from './lib/git.ts';

/** Files larger than this, added or changed by an item, fail it (a build output or a dump committed by mistake). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/**
 * Paths of `checkout` changed while the agent ran (modified at or after `sinceMs`): an agent works only in its own worktree.
 * `ignore` holds paths (relative, prefix match) that are expected to change, e.g. worktree folders inside the checkout.
 */
export async function writesOutside(checkout: string, sinceMs: number, ignore: readonly string[] = []): Promise<string[]> {
  const dirty = await dirtyPaths(checkout).catch(() => []);
  return dirty.filter((p) => {
    if (ignore.some((i) => p === i || p.startsWith(`${i}/`))) return false;
    try {
      return statSync(path.join(checkout, p)).mtimeMs >= sinceMs - 1000;
    } catch {
      return true; // deleted while the agent ran
    }
  });
}

/** Files the branch adds or changes that are larger than `limit` bytes. */
export async function oversizedFiles(cwd: string, base: string, branch: string, limit = MAX_FILE_BYTES): Promise<Array<{ path: string; bytes: number }>> {
  const files = (await git(cwd, ['diff', '--name-only', '--no-renames', '--diff-filter=AM', base, branch])).split('\n').filter(Boolean);
  const out: Array<{ path: string; bytes: number }> = [];
  for (const file of files) {
    const size = await gitRaw(cwd, ['cat-file', '-s', `${branch}:${file}`]);
    const bytes = Number(size.stdout.trim());
    if (size.exitCode === 0 && bytes > limit) out.push({ path: file, bytes });
  }
  return out;
}

/** Files where the branch adds both a `<<<<<<<` and a `>>>>>>>` conflict marker line. */
export async function committedConflictMarkers(cwd: string, base: string, branch: string): Promise<string[]> {
  const diff = await git(cwd, ['diff', '-U0', '--no-renames', base, branch]);
  const found = new Map<string, Set<string>>();
  let file = '';
  for (const line of diff.split('\n')) {
    if (line.startsWith('+++ ')) file = line.replace(/^\+\+\+ (b\/)?/, '');
    else if (/^\+(<{7}|>{7})( |$)/.test(line)) found.set(file, (found.get(file) ?? new Set()).add(line[1] as string));
  }
  return [...found].filter(([, marks]) => marks.size === 2).map(([f]) => f);
}
