/** Lines the runner keeps in `.git/info/exclude` so its worktrees and agent files never show as changes. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readRegularFile } from './regular-file.ts';
import { AGENT_LOCK, LINKED_FOLDERS } from './paths.ts';

const MARK = '# work-milestone';

/**
 * The lines the runner keeps excluded in the repository at `repo`: its worktree folder `root` (when inside the
 * checkout), the agent lock file and the dependency folders linked into worktrees.
 */
export function runnerExcludePatterns(repo: string, root: string): string[] {
  const rel = path.relative(repo, root);
  const inside = rel && !rel.startsWith('..') && !path.isAbsolute(rel);
  return [...(inside ? [`/${rel.split(path.sep).join('/')}/`] : []), AGENT_LOCK, ...LINKED_FOLDERS.map((f) => `/${f}`)];
}

/**
 * Make sure every pattern is in `<commonDir>/info/exclude` (idempotent; the user's own lines are kept). Returns the
 * patterns it had to add.
 */
export async function ensureExcluded(commonDir: string, patterns: readonly string[]): Promise<readonly string[]> {
  const file = path.join(commonDir, 'info', 'exclude');
  let text = '';
  try {
    text = await readRegularFile(file);
  } catch (error) {
    // Anything but a missing file (a pipe or a folder put there) is left alone: writing to a pipe would block.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return [];
  }
  const lines = new Set(text.split('\n').map((l) => l.trim()));
  const missing = patterns.filter((p) => !lines.has(p));
  if (missing.length === 0) return [];
  await mkdir(path.dirname(file), { recursive: true });
  const head = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  const mark = lines.has(MARK) ? '' : `${MARK}\n`;
  await writeFile(file, `${head}${mark}${missing.join('\n')}\n`);
  return missing;
}
