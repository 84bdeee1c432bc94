/**
 * Guards on what an agent did: writes outside its worktree, huge files, committed conflict markers, hooks and git
 * config.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkGitSetup, type HeldGitSetup } from './git-setup-guard.ts';
import { freshRead } from '../lib/fresh-read.ts';
import { readChange, type Change, type ChangedFile } from '../lib/git-change.ts';
import { git, gitRaw, revParse } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { unquoteGitPath } from '../lib/git-quoted.ts';
import { firstOf } from '../lib/bounded-text.ts';
import { touchedRunnerFiles, type RunnerFiles } from './runner-files.ts';
import type { State } from '../lib/state-types.ts';

/** Files larger than this, added or changed by an item, fail it (a build output or a dump committed by mistake). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

/**
 * Paths of `checkout` changed while the agent ran (modified at or after `sinceMs`): an agent works only in its own
 * worktree. Throws when git cannot read the checkout's status.
 * `ignore` holds paths (relative, prefix match) that are expected to change, e.g. worktree folders inside the checkout.
 * `settled` (a `readClock` time): when nothing of the agent ran any more; any status read started after it shows
 * every write the agent made (without it: a read started after this call).
 */
export async function writesOutside(
  checkout: string,
  sinceMs: number,
  ignore: readonly string[] = [],
  settled?: number,
): Promise<Array<{ path: string; at: number }>> {
  // Agents whose processes had all ended before a status of the checkout started share that status.
  const dirty = await freshRead(`status\0${checkout}`, () => dirtyPaths(checkout), settled);
  const out: Array<{ path: string; at: number }> = [];
  for (const p of dirty) {
    if (ignore.some((i) => p === i || p.startsWith(`${i}/`))) continue;
    let at: number;
    try {
      at = statSync(path.join(checkout, p)).mtimeMs;
    } catch {
      at = Date.now(); // deleted while the agent ran
    }
    if (at >= sinceMs - 1000) out.push({ path: p, at });
  }
  return out;
}

/** When an agent ran: from its start to its end (or now while it runs). */
export interface AgentWindow {
  readonly issue: number;
  readonly start: number;
  readonly end: number;
}

/** Windows of every item agent of the milestone, from state. */
export function agentWindows(state: State, now = Date.now()): AgentWindow[] {
  const out: AgentWindow[] = [];
  for (const it of Object.values(state.items)) {
    if (it.process) out.push({ issue: it.issue, start: Date.parse(it.process.startedAt), end: now });
    else if (it.finishedAt && it.result)
      out.push({
        issue: it.issue,
        start: Date.parse(it.finishedAt) - it.result.durationMs,
        end: Date.parse(it.finishedAt),
      });
  }
  return out;
}

/** What one attempt did that no item may do: `violations` fail it, `flags` are shown with it. */
export interface GuardFindings {
  readonly violations: readonly string[];
  readonly flags: readonly string[];
}

/**
 * Check an ended attempt. A write into the integration worktree is blamed on this agent when it was the only agent
 * running at the time of the write (one into the user's checkout is only reported: it may be the user's own edit); when
 * several were, each of them gets a flag (who did it
 * cannot be told apart), and landing stops anyway because the checkout is dirty. Changes to `.git/hooks` and the
 * repository's config files since the last check are flags (`commonDir` is the git common dir, `stateDir` keeps the
 * baseline).
 */
export async function checkGuards(
  where: {
    readonly repo: string;
    readonly integration: string;
    readonly commonDir: string;
    readonly stateDir: string;
    /** Whether the runner had made the integration worktree (a missing one is then reported). */
    readonly integrationMade?: boolean;
    /** The hooks and config baseline the command holds (read from `stateDir` without it). */
    readonly held?: HeldGitSetup;
    /** The milestone's files the runner keeps: the item's commits may not change them. */
    readonly kept?: RunnerFiles;
  },
  me: {
    readonly issue: number;
    readonly start: number;
    readonly base: string | null;
    readonly branch: string | null;
    readonly tip?: string | null;
    /** When its processes were all gone (`readClock`): a read of a checkout started since then may be shared. */
    readonly settled?: number;
    /** Its worktree (where its submodules' own copies are). */
    readonly worktree?: string | null;
  },
  windows: readonly AgentWindow[],
): Promise<GuardFindings> {
  const violations: string[] = [];
  const flags: string[] = [];
  // The user may edit their own checkout while agents run: a change there is reported, never fails an attempt
  // (landing waits for a clean checkout anyway). Nobody but the runner works in the integration worktree.
  const places = [
    { label: `the user's checkout ${where.repo}`, dir: where.repo, userEdits: true },
    { label: 'the integration worktree', dir: where.integration, userEdits: false },
  ];
  // The judged tip, read once by the caller: a ref read again here could have moved since.
  const tip = me.tip ?? (me.branch ? await revParse(where.repo, `refs/heads/${me.branch}`) : null);
  // The reads below look at different things and change nothing: side by side.
  const commits: Promise<GuardFindings> =
    me.base && tip
      ? guardCommits(
          where.repo,
          me.base,
          tip,
          where.kept ? { issue: me.issue, kept: where.kept, worktree: me.worktree ?? null } : undefined,
        )
      : Promise.resolve({ violations: [], flags: [] });
  // Awaited below; a failure meanwhile is not an unhandled rejection.
  commits.catch(() => undefined);
  const setup = checkGitSetup(where.commonDir, where.stateDir, me.start, where.held).catch((error: unknown) => [
    `could not compare .git/hooks and the git config with the last check: ${(error as Error).message}`,
  ]);
  const found = await Promise.all(
    places.map((place) =>
      existsSync(place.dir)
        ? writesOutside(place.dir, me.start, [], me.settled).catch((error: unknown) => {
            // Unknown is said, never taken for "nothing written" (a named pipe an agent left stops git there).
            flags.push(`could not read ${place.label}, so writes there are unknown: ${(error as Error).message}`);
            return null;
          })
        : Promise.resolve(null),
    ),
  );
  // The runner made the integration worktree before any agent; gone now, someone removed it (it is made again).
  if (!existsSync(where.integration) && where.integrationMade)
    flags.push(`the integration worktree ${where.integration} was removed while this agent ran (by it or another)`);
  for (const [i, place] of places.entries()) {
    const writes = found[i];
    if (!writes) continue;
    const mine = writes.filter(
      (w) => !windows.some((o) => o.issue !== me.issue && o.start - 1000 <= w.at && w.at <= o.end + 1000),
    );
    const shared = writes.filter((w) => !mine.includes(w));
    const paths = mine
      .slice(0, 5)
      .map((w) => w.path)
      .join(', ');
    if (mine.length && place.userEdits)
      flags.push(
        `${place.label} changed while this agent ran (by it or by you; landing waits for a clean checkout): ${paths}`,
      );
    else if (mine.length) violations.push(`wrote outside its worktree, in ${place.label}: ${paths}`);
    if (shared.length)
      flags.push(
        `${place.label} changed while this and other agents ran: ${shared
          .slice(0, 5)
          .map((w) => w.path)
          .join(', ')}`,
      );
  }
  const guarded = await commits;
  violations.push(...guarded.violations);
  flags.push(...guarded.flags, ...(await setup));
  return { violations, flags };
}

/** The item whose commits are guarded, the files the runner keeps (`runner-files.ts`), and its worktree. */
export interface CommitOwner {
  readonly issue: number;
  readonly kept: RunnerFiles;
  /** Where its submodules' own copies are: a commit their remotes have is published. */
  readonly worktree?: string | null;
}

/**
 * What no commit between `base` and `tip` may bring: files over the size limit, committed conflict markers, a
 * submodule moved to a commit only the agent's worktree has, and (with `owner`) a change to the runner's files other
 * than the item's own backlog file; a change to that one is a flag (its acceptance criteria are what it is judged by).
 */
export async function guardCommits(
  repo: string,
  base: string,
  tip: string,
  owner?: CommitOwner,
): Promise<GuardFindings> {
  const violations: string[] = [];
  const flags: string[] = [];
  // One diff serves every check.
  const change = await readChange(repo, base, tip);
  if (owner) {
    const touched = touchedRunnerFiles(
      change.files.map((f) => unquoteGitPath(f.path)),
      owner.kept,
      owner.issue,
    );
    if (touched.others.length)
      violations.push(
        `changed the milestone's plan or backlog files, which the runner keeps: ${firstOf(touched.others)} ` +
          '(say what you found in your report instead; the runner marks items done when they land)',
      );
    if (touched.own) flags.push(`changed its own backlog file ${touched.own}`);
  }
  const lost = await unpublishedSubmoduleCommits(repo, change.files, owner?.worktree ?? null);
  if (lost.length)
    violations.push(
      `moved submodule ${firstOf(lost)} to a commit only its worktree has (it would be lost with the worktree, and ` +
        'main would point at nothing); the commit must be in the submodule of the checkout first',
    );
  const big = await oversizedFiles(repo, base, tip, MAX_FILE_BYTES, change);
  const sized = (list: readonly OversizedFile[]) =>
    list.map((b) => `${b.path} (${(b.bytes / 1024 / 1024).toFixed(1)} MiB)`).join(', ');
  const grown = big.filter((b) => !b.wasLarge);
  if (grown.length) violations.push(`commits files over ${MAX_FILE_BYTES / 1024 / 1024} MiB: ${sized(grown)}`);
  // A file that was that large already (a monorepo's lockfile, a data file) is the repository's, not a mistake.
  const large = big.filter((b) => b.wasLarge);
  if (large.length)
    flags.push(`changes files over ${MAX_FILE_BYTES / 1024 / 1024} MiB (as large before): ${sized(large)}`);
  const markers = change.conflictMarkers;
  if (markers.length) violations.push(`commits conflict markers in ${markers.join(', ')}`);
  return { violations, flags };
}

/**
 * Submodules (paths) the change moves to a commit nobody else has: neither the user's checkout of that submodule nor
 * the submodule's origin (a commit fetched from it into the item worktree's own copy, as `git submodule update
 * --remote` or a new `git submodule add` does, is published: one `ls-remote`, only then). An agent that commits
 * inside a submodule in its worktree keeps that commit in the worktree's own copy, which goes with the worktree. A
 * submodule folder that is not set up is asked of the repository around it, which does not have the commit either.
 */
async function unpublishedSubmoduleCommits(
  repo: string,
  files: readonly ChangedFile[],
  worktree: string | null,
): Promise<string[]> {
  const out: string[] = [];
  const has = async (dir: string, sha: string) =>
    existsSync(dir) && (await gitRaw(dir, ['cat-file', '-e', `${sha}^{commit}`])).exitCode === 0;
  // Its origin has it: a remote-tracking ref that contains it and whose tip origin has (asked of origin itself: a
  // ref an agent made under refs/remotes proves nothing).
  const fetched = async (dir: string, sha: string) => {
    if (!existsSync(dir)) return false;
    const tips = (
      await gitRaw(dir, ['for-each-ref', '--contains', sha, '--format=%(objectname)', 'refs/remotes/origin'])
    ).stdout
      .split('\n')
      .filter(Boolean);
    if (tips.length === 0) return false;
    const remote = await gitRaw(dir, ['ls-remote', 'origin']);
    const published = new Set(remote.stdout.split('\n').map((l) => l.split('\t')[0]));
    return remote.exitCode === 0 && tips.some((t) => published.has(t));
  };
  for (const f of files) {
    if (f.mode !== '160000' || (f.status !== 'A' && f.status !== 'M')) continue;
    const name = unquoteGitPath(f.path);
    if (await has(path.join(repo, name), f.blob)) continue;
    if (worktree && (await fetched(path.join(worktree, name), f.blob))) continue;
    out.push(name);
  }
  return out;
}

/** Sizes of `blobs` in bytes (NaN for one git does not have), one `cat-file --batch-check` for all. */
async function blobSizes(cwd: string, blobs: readonly string[]): Promise<number[]> {
  if (blobs.length === 0) return [];
  const out = await git(cwd, ['cat-file', '--batch-check=%(objectsize)'], {
    input: blobs.map((b) => `${b}\n`).join(''),
  });
  return out.split('\n').map(Number);
}

/** A file over the size limit: its size, and for a changed one whether it was over the limit before the change. */
export interface OversizedFile {
  readonly path: string;
  readonly bytes: number;
  /** It was over the limit before (a large lockfile or data file the change edits), not made so by the change. */
  readonly wasLarge: boolean;
}

/** Files the branch adds or changes that are larger than `limit` bytes (one `cat-file --batch-check` for all). */
export async function oversizedFiles(
  cwd: string,
  base: string,
  branch: string,
  limit = MAX_FILE_BYTES,
  change?: Change,
): Promise<OversizedFile[]> {
  const { files, addedText } = change ?? (await readChange(cwd, base, branch));
  // A text file the change adds is in the patch whole: a UTF-8 byte is at least a third of a UTF-16 unit, so a patch
  // far under the limit is a file under it, without asking git. A submodule entry (a commit) has no size here.
  const surelySmall = (f: ChangedFile) => f.status === 'A' && 4 * (addedText.get(f.blob) ?? Infinity) < limit;
  const blobs = files.filter((f) => (f.status === 'A' || f.status === 'M') && !/^0+$/.test(f.blob) && !surelySmall(f));
  const sizes = await blobSizes(
    cwd,
    blobs.map((f) => f.blob),
  );
  const over = blobs.flatMap((f, i) => {
    const bytes = sizes[i] as number;
    return Number.isFinite(bytes) && bytes > limit ? [{ file: f, bytes }] : [];
  });
  // Only for what is over the limit now: how large the changed ones were before.
  const changed = over.filter((o) => o.file.status === 'M' && !/^0+$/.test(o.file.oldBlob));
  const before = await blobSizes(
    cwd,
    changed.map((o) => o.file.oldBlob),
  );
  const wasLarge = new Set(changed.filter((_, i) => (before[i] as number) > limit).map((o) => o.file));
  // A file moved (renames are off: a deletion and an addition of the same blob) was as large where it was.
  const deleted = new Set(files.filter((f) => f.status === 'D').map((f) => f.oldBlob));
  for (const o of over) if (o.file.status === 'A' && deleted.has(o.file.blob)) wasLarge.add(o.file);
  return over.map((o) => ({ path: o.file.path, bytes: o.bytes, wasLarge: wasLarge.has(o.file) }));
}
