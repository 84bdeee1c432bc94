/** Git through zx, with a per-directory shell (no global `$` settings are changed). */
import path from 'node:path';
import { $, type ProcessOutput, type Shell } from 'zx';
import { BadInputError, StepFailedError } from './errors.ts';

/** A quiet shell bound to a directory; throws on non-zero exit. */
export function shellIn(cwd: string, env?: NodeJS.ProcessEnv): Shell {
  return $({ cwd, quiet: true, verbose: false, env: env ?? process.env }) as Shell;
}

/** Run git in `cwd` and return trimmed stdout; a failure becomes StepFailedError with git's own words. */
export async function git(cwd: string, args: readonly string[]): Promise<string> {
  const out = await shellIn(cwd)`git ${args}`.nothrow();
  if (out.exitCode !== 0) {
    throw new StepFailedError(`git ${args.join(' ')} failed in ${cwd}: ${lastLines(out.stderr || out.stdout, 3)}`);
  }
  return out.stdout.trim();
}

/** Run git and return the whole result, whatever the exit code. */
export async function gitRaw(cwd: string, args: readonly string[], input?: string): Promise<ProcessOutput> {
  const p = shellIn(cwd)`git ${args}`.nothrow();
  if (input !== undefined) {
    p.stdin.write(input);
    p.stdin.end();
  }
  return p;
}

/** Whether `git <args>` exits 0. */
export async function gitOk(cwd: string, args: readonly string[]): Promise<boolean> {
  return (await gitRaw(cwd, args)).exitCode === 0;
}

/** The sha a ref points at, or null. */
export async function revParse(cwd: string, ref: string): Promise<string | null> {
  const out = await gitRaw(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return out.exitCode === 0 ? out.stdout.trim() : null;
}

/** Whether `ancestor` is an ancestor of (or equal to) `ref`. */
export async function isAncestor(cwd: string, ancestor: string, ref: string): Promise<boolean> {
  return gitOk(cwd, ['merge-base', '--is-ancestor', ancestor, ref]);
}

/** The top of the repository around `cwd`; bad input when there is none. */
export async function findRepoRoot(cwd: string): Promise<string> {
  const out = await gitRaw(cwd, ['rev-parse', '--show-toplevel']).catch(() => null);
  if (!out || out.exitCode !== 0) throw new BadInputError(`${cwd} is not inside a git repository; pass --repo DIR`);
  return out.stdout.trim();
}

/** The git common dir (shared by all worktrees), absolute. */
export async function findCommonDir(repo: string): Promise<string> {
  return path.resolve(repo, await git(repo, ['rev-parse', '--git-common-dir']));
}

/** Paths with uncommitted changes (tracked or untracked, not ignored). */
export async function dirtyPaths(cwd: string): Promise<string[]> {
  // Not trimmed: the first entry's status may start with a space (" M file").
  const out = await gitRaw(cwd, ['status', '--porcelain', '-z', '--untracked-files=all']);
  if (out.exitCode !== 0) throw new StepFailedError(`git status failed in ${cwd}: ${lastLines(out.stderr, 3)}`);
  const entries = out.stdout.split('\0').filter(Boolean);
  const paths: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as string;
    paths.push(entry.slice(3));
    // A rename or copy is followed by its source path.
    if (/^[RC]/.test(entry)) i++;
  }
  return paths;
}

/** One worktree as `git worktree list --porcelain` gives it. */
export interface WorktreeInfo {
  readonly path: string;
  readonly head: string | null;
  readonly branch: string | null;
}

/** Every worktree of the repository. */
export async function listWorktrees(repo: string): Promise<WorktreeInfo[]> {
  const out = await git(repo, ['worktree', 'list', '--porcelain']);
  return out
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const lines = block.split('\n');
      const get = (k: string) => lines.find((l) => l.startsWith(`${k} `))?.slice(k.length + 1) ?? null;
      return { path: get('worktree') ?? '', head: get('HEAD'), branch: get('branch')?.replace(/^refs\/heads\//, '') ?? null };
    });
}

/** The last `n` non-empty lines of a text, joined with ' / ' for one-line messages. */
export function lastLines(text: string, n: number): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' / ');
}
