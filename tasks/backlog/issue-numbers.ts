/**
 * Issue numbers of new file-backlog items, handed out once per repository: every milestone creates its follow-ups in
 * its own integration worktree, so the next free number of one folder is not enough when two milestones run at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.ts';
import { StepFailedError } from '../lib/errors.ts';
import { git, gitRaw } from '../lib/git.ts';
import { withRepoLock } from '../lib/repo-lock.ts';
import { mapAtMost } from '../lib/map-at-most.ts';
import { readRegularFile } from '../lib/regular-file.ts';

/** Lock name (`<common dir>/work-milestone/backlog-numbers.lock`) and record of the last number handed out. */
const LOCK = 'backlog-numbers';
const ITEM_NAME = /^([1-9][0-9]*)\.md$/;

/** The highest item file name counted on branches (no backlog comes near it; the schemas accept up to 2^53 - 1). */
const MAX_COUNTED = 999_999_999;

/** Backlog trees listed at once. */
const LISTINGS_AT_ONCE = 4;

/** Where the allocator keeps the last number it handed out. */
export function issueNumbersFile(commonDir: string): string {
  return path.join(commonDir, 'work-milestone', 'backlog-numbers.json');
}

/** What the repository-wide allocator needs. */
export interface IssueNumberOptions {
  readonly commonDir: string;
  /** Any checkout or worktree of the repository (refs are shared). */
  readonly cwd: string;
  /** The backlog folder, relative to the top of the repository (`plan/backlog`). */
  readonly dir: string;
  /** Who takes the lock, for the message of a runner that waits. */
  readonly command: string;
  readonly signal?: AbortSignal;
}

/**
 * An allocator for `createFileBacklog`: under the repository lock `backlog-numbers`, the number is the largest of
 * `atLeast`, the last number handed out plus one, and the highest item file name in `dir` on any local or
 * remote-tracking branch plus one; it is recorded before it is returned. Numbers a crash left unused stay unused.
 */
export function repoIssueAllocator(opts: IssueNumberOptions): (atLeast: number) => Promise<number> {
  const file = issueNumbersFile(opts.commonDir);
  // A tree's highest name never changes: each follow-up of a run lists only the trees it has not seen.
  const seen = new Map<string, number>();
  return (atLeast) =>
    withRepoLock(opts.commonDir, LOCK, { command: opts.command, signal: opts.signal }, async () => {
      const last = await readLast(file);
      const onBranches = await highestOnBranches(opts.cwd, opts.dir, seen);
      const issue = Math.max(atLeast, last + 1, onBranches + 1);
      await writeLast(file, issue);
      return issue;
    });
}

/** The last number recorded, 0 when none is. */
async function readLast(file: string): Promise<number> {
  const text = await readRegularFile(file).catch((e: unknown) =>
    (e as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : Promise.reject(e),
  );
  if (text === undefined) return 0;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new StepFailedError(`${file} is not JSON; remove it (numbers already on branches are still avoided)`);
  }
  const last = (data as { last?: unknown } | null)?.last;
  if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0 || last >= Number.MAX_SAFE_INTEGER)
    throw new StepFailedError(
      `${file} has no valid "last" number; remove it (numbers already on branches are still avoided)`,
    );
  return last;
}

async function writeLast(file: string, last: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify({ last })}\n`);
}

/**
 * The highest `<n>.md` in `dir` on every branch (refs/heads and refs/remotes): one `cat-file --batch-check` finds
 * each branch's backlog tree, and only distinct trees are listed (most branches share one), so this stays cheap.
 */
export async function highestOnBranches(
  cwd: string,
  dir: string,
  seen: Map<string, number> = new Map(),
): Promise<number> {
  const folder = dir.replace(/^\.\//, '').replace(/\/+$/, '');
  const tips = (await git(cwd, ['for-each-ref', '--format=%(objectname)', 'refs/heads', 'refs/remotes']))
    .split('\n')
    .filter(Boolean);
  if (tips.length === 0) return 0;
  const out = await gitRaw(
    cwd,
    ['cat-file', '--batch-check=%(objectname) %(objecttype)'],
    tips.map((t) => `${t}:${folder}\n`).join(''),
  );
  if (out.exitCode !== 0)
    throw new StepFailedError(`git cat-file --batch-check failed in ${cwd}: ${out.stderr.trim()}`);
  const trees = new Set(
    out.stdout.split('\n').flatMap((l) => (/^[0-9a-f]+ tree$/.test(l) ? [l.split(' ')[0] as string] : [])),
  );
  const fresh = [...trees].filter((tree) => !seen.has(tree));
  // Side by side: a repository whose branches hold thousands of backlog trees waited on them one at a time.
  await mapAtMost(fresh, LISTINGS_AT_ONCE, async (tree) => {
    let highest = 0;
    for (const name of (await git(cwd, ['ls-tree', '--name-only', tree])).split('\n')) {
      const n = Number(ITEM_NAME.exec(name)?.[1]);
      // A name past any real backlog's numbers (an agent's `99999999999999999999.md` on a branch of its own) is not
      // one to count on: every later number would be invalid, and the record of the last one written with it.
      if (n <= MAX_COUNTED) highest = Math.max(highest, n);
    }
    seen.set(tree, highest);
  });
  let highest = 0;
  for (const tree of trees) highest = Math.max(highest, seen.get(tree) ?? 0);
  return highest;
}
