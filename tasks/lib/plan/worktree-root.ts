/**
 * `defaults.worktree-root` must be a folder of the worktrees' own. The runner makes its worktrees there and writes it
 * to `.git/info/exclude`: the repository itself (`.`) makes every run fail, `.git` is git's, and a folder holding
 * tracked files (`plan`, `src`) would hide every new file under it from git for good. A folder outside the
 * repository (`../repo.worktrees`) is fine. What needs the repository (tracked files, symlinks) is found by
 * `inspectWorktreeRoot`; the rest is checked on the text alone.
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from '../diagnostics.ts';
import { StepFailedError } from '../errors.ts';
import { isCode, resolveExisting } from '../fs-paths.ts';
import { gitRaw, failureLines } from '../git.ts';
import { asMap, keyOf, type RawMap } from './raw.ts';
import { diagnosticAt } from '../yaml-positions.ts';

/** Where the worktrees go when the plan does not say. */
export const DEFAULT_WORKTREE_ROOT = 'worktrees';

/** Tracked paths named in a message. */
const SHOWN_TRACKED = 3;

/** The worktree root a raw plan asks for: its key (either spelling), its value, whether it is written at all. */
export interface WorktreeRootSetting {
  readonly key: string;
  readonly value: string;
  readonly given: boolean;
}

/** What the repository says about a worktree root. */
export interface WorktreeRootFacts {
  /** The folder relative to the repository top, `/`-separated, symlinks resolved (`''`: the top); null when outside. */
  readonly relative: string | null;
  /** Whether the folder is the repository or holds it (`..`). */
  readonly holdsRepository: boolean;
  /** Tracked paths at or under the folder (the first few). */
  readonly tracked: readonly string[];
  /**
   * An existing path on the way to the folder, or the folder itself, that is not a folder (relative, `/`-separated).
   */
  readonly notAFolder: string | null;
}

/** The worktree root of a raw plan; undefined when the value has the wrong shape (the schema reports it). */
export function worktreeRootSetting(plan: RawMap): WorktreeRootSetting | undefined {
  const defaults = asMap(plan.defaults);
  const key = keyOf(defaults, 'worktree-root');
  const value = defaults?.[key];
  if (value === undefined) return { key, value: DEFAULT_WORKTREE_ROOT, given: false };
  return typeof value === 'string' && value.length > 0 ? { key, value, given: true } : undefined;
}

/** `.git`, in any case (a case-insensitive file system takes `.GIT` for it). */
function isGitDir(segment: string): boolean {
  return segment.toLowerCase() === '.git';
}

/** `/`-separated segments of a path relative to the repository. */
function segmentsOf(relative: string): string[] {
  return relative.split('/').filter((s) => s !== '' && s !== '.');
}

/**
 * Why `value` cannot be the worktree root ("is the repository itself"), or undefined; `facts` adds what the repository
 * knows.
 */
export function worktreeRootProblem(value: string, facts?: WorktreeRootFacts): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'has a control character';
  const relative = facts ? facts.relative : path.isAbsolute(value) ? null : path.posix.normalize(value);
  const segments = relative === null ? [] : segmentsOf(relative);
  if (relative !== null && segments.length === 0) return 'is the repository itself';
  if (facts ? facts.holdsRepository : segments.length > 0 && segments.every((s) => s === '..'))
    return 'holds the repository itself';
  // The text counts too: `../repo/.git` is git's folder whatever the repository is called.
  const named = [segments, segmentsOf(value)].find((list) => list.some(isGitDir));
  if (named) return `${named.findIndex(isGitDir) === named.length - 1 ? 'is' : 'is inside'} git's own folder (.git)`;
  if (!facts) return undefined;
  const [first] = facts.tracked;
  if (first !== undefined) {
    if (first === facts.relative) return 'is a tracked file';
    const shown = facts.tracked.slice(0, SHOWN_TRACKED).join(', ');
    const more = facts.tracked.length > SHOWN_TRACKED ? ', …' : '';
    return `holds tracked files (${shown}${more}), and excluding it from git would hide every new file there`;
  }
  if (facts.notAFolder !== null)
    return facts.notAFolder === facts.relative
      ? 'is a file, not a folder'
      : `is inside ${facts.notAFolder}, which is a file`;
  return undefined;
}

/** The diagnostic of a bad worktree root, at its value (or, for the default, at `defaults` or the top of the plan). */
export function checkWorktreeRoot(
  plan: RawMap,
  doc: Document,
  lc: LineCounter,
  file: string,
  facts?: WorktreeRootFacts,
): Diagnostic[] {
  const setting = worktreeRootSetting(plan);
  if (!setting) return [];
  const problem = worktreeRootProblem(setting.value, facts);
  if (problem === undefined) return [];
  const example =
    setting.value === DEFAULT_WORKTREE_ROOT
      ? 'a folder outside the repository'
      : `${DEFAULT_WORKTREE_ROOT} or a folder outside the repository`;
  const message = setting.given
    ? `defaults.${setting.key} ${JSON.stringify(setting.value)} ${problem}; the worktrees need a new folder of their own, e.g. ${example}`
    : `the default worktree root ${JSON.stringify(setting.value)} ${problem}; set defaults.worktree-root to a new folder, e.g. ${example}`;
  return [diagnosticAt(doc, lc, file, ['defaults', setting.key], message)];
}

/** The first existing path from the top down to `real` that is not a folder, relative to `top`; null when none. */
async function firstNonFolder(top: string, relative: string): Promise<string | null> {
  const segments = segmentsOf(relative);
  for (let i = 1; i <= segments.length; i++) {
    const rel = segments.slice(0, i).join('/');
    const s = await stat(path.join(top, rel)).catch((e: unknown) =>
      isCode(e, 'ENOENT', 'ENOTDIR') ? null : Promise.reject(e),
    );
    if (s === null) return null;
    if (!s.isDirectory()) return rel;
  }
  return null;
}

/** Tracked paths at or under `relative` (`git ls-files`, pathspec taken literally). */
async function trackedUnder(repo: string, relative: string): Promise<string[]> {
  const out = await gitRaw(repo, ['--literal-pathspecs', 'ls-files', '-z', '--full-name', '--', relative]);
  if (out.exitCode !== 0) {
    // A pathspec past a symlink names nothing git tracks.
    if (/beyond a symbolic link/.test(out.stderr)) return [];
    throw new StepFailedError(`git ls-files failed in ${repo}: ${failureLines(out.stderr, 3)}`);
  }
  return out.stdout.split('\0').filter(Boolean);
}

/** What the repository at `repo` (its top) says about the worktree root `value`: reads only. */
export async function inspectWorktreeRoot(repo: string, value: string): Promise<WorktreeRootFacts> {
  if (/[\u0000]/.test(value)) return { relative: null, holdsRepository: false, tracked: [], notAFolder: null };
  const top = await realpath(repo);
  const real = await resolveExisting(path.resolve(top, value));
  const rel = path.relative(top, real);
  const inside = rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
  const up = path.relative(real, top);
  const holdsRepository = up === '' || (up !== '..' && !up.startsWith(`..${path.sep}`) && !path.isAbsolute(up));
  if (!inside) return { relative: null, holdsRepository, tracked: [], notAFolder: null };
  const relative = rel.split(path.sep).join('/');
  if (relative === '' || segmentsOf(relative).some(isGitDir))
    return { relative, holdsRepository, tracked: [], notAFolder: null };
  return {
    relative,
    holdsRepository,
    tracked: await trackedUnder(top, relative),
    notAFolder: await firstNonFolder(top, relative),
  };
}
