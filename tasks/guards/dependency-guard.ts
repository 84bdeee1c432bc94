/**
 * The dependency folders of the user's checkout (`node_modules`, `.venv`) are linked into every item worktree, so an
 * agent's `npm install`, or its edit of a package it blamed for a failing test, writes into the user's own folder.
 * The gates read that folder too: the integration worktree lies inside the checkout, Node resolves packages up to
 * `<repo>/node_modules`, and `npm run` puts every `node_modules/.bin` above it on PATH. A package "fixed" there makes
 * the gates pass on code that fails everywhere else; git sees none of it (the folders are ignored). So the folders'
 * stamps from before the first agent are trusted: a change stops the runner before a gate run, and a change while the
 * gates ran voids their verdict (exit 3), unless `--adopt` keeps the folders as they are (docs/guarantees.md, 1).
 */
import path from 'node:path';
import type { Ctx, TrustedDependencies } from '../engine/context.ts';
import { firstOf } from '../lib/bounded-text.ts';
import { NeedsAttentionError } from '../lib/errors.ts';
import { LINKED_FOLDERS } from '../lib/paths.ts';
import { stampTree, type ChangedEntry, type TreeWalk } from '../lib/tree-stamp.ts';
import { agentWindows } from './agent-guards.ts';
import { readHeldRecord, writeHeldRecord } from './held-record.ts';

/** The trusted stamps' file in the milestone's state dir. */
export const TRUSTED_DEPENDENCIES_FILE = 'dependencies-trusted.json';

/**
 * What npm and pnpm keep at the top of `node_modules` besides packages: links to their programs, pnpm's store of
 * the packages themselves, and the installers' own records of what they installed.
 */
const INSTALLED_DOT_ENTRIES = new Set(['.bin', '.pnpm', '.package-lock.json', '.modules.yaml']);

/**
 * What tools write while they run (an agent's test run or build writes it through its link): every other entry
 * at the top of `node_modules` whose name starts with a dot (`.cache` of babel, eslint, terser; `.vite`, `.vitest`;
 * `.tmp`, where Vite's templates keep `tsc -b`'s build info; `.prisma`, Prisma's generated client), Python's
 * `__pycache__` folders, and the empty lock file `uv run` leaves at `.venv/.lock`. What is poisoned there is out of
 * reach (docs/guarantees.md).
 */
const isCache = (folder: string, rel: string, name: string) =>
  name === '__pycache__' ||
  (folder === 'node_modules' && rel === name && name.startsWith('.') && !INSTALLED_DOT_ENTRIES.has(name)) ||
  (folder === '.venv' && rel === '.lock');

/** Stamp every linked folder of `repo`, naming entries changed after `sinceOf(folder)`. */
function stampFolders(repo: string, sinceOf: (folder: string) => number | undefined = () => undefined) {
  const out: Record<string, TreeWalk | null> = {};
  for (const folder of LINKED_FOLDERS)
    out[folder] = stampTree(path.join(repo, folder), {
      since: sinceOf(folder),
      skip: (rel, name) => isCache(folder, rel, name),
    });
  return out;
}

const asRecord = (at: number, walks: Readonly<Record<string, TreeWalk | null>>): TrustedDependencies => ({
  at,
  folders: Object.fromEntries(
    Object.entries(walks).map(([folder, w]) => [
      folder,
      w && { entries: w.entries, digest: w.digest, ...(w.newestMs === undefined ? {} : { newestMs: w.newestMs }) },
    ]),
  ),
});

const fileOf = (ctx: Ctx) => path.join(ctx.stateDir, TRUSTED_DEPENDENCIES_FILE);

/** Trust the folders as they are now, when nothing is trusted yet: before the first agent of the milestone starts. */
export async function recordTrustedDependencies(ctx: Ctx): Promise<void> {
  const file = fileOf(ctx);
  if (await readHeldRecord(ctx, 'dependencies', file, ['folders'])) return;
  // Taken before the walk: whatever changes during it has a later ctime.
  const at = Date.now();
  await writeHeldRecord(ctx, 'dependencies', file, asRecord(at, stampFolders(ctx.repo)));
}

/** Which items' agents ran when the entries changed (their ctime within an agent's run, give or take a second). */
function runningThen(ctx: Ctx, changed: readonly ChangedEntry[]): number[] {
  const windows = agentWindows(ctx.store.current());
  const issues = windows
    .filter((w) => changed.some((c) => w.start - 1000 <= c.at && c.at <= w.end + 1000))
    .map((w) => w.issue);
  return [...new Set(issues)].sort((a, b) => a - b);
}

/**
 * Stop (exit 3) when a linked dependency folder of the user's checkout changed since it was trusted: `before` a gate
 * run, or `while` it ran (its verdict is then not used). With `--adopt` the folders as they are now are trusted
 * from then on (a notice says so). One walk of the folders (no git); nothing when the checkout has none.
 */
export async function checkTrustedDependencies(ctx: Ctx, when: 'before' | 'while'): Promise<void> {
  const file = fileOf(ctx);
  const trusted = await readHeldRecord(ctx, 'dependencies', file, ['folders']);
  // A milestone started before this guard existed: trusted from here on.
  if (!trusted) return recordTrustedDependencies(ctx);
  const at = Date.now();
  // Named: what changed after the newest file the trusted stamp saw (older records: a second before they were taken).
  const now = stampFolders(ctx.repo, (folder) => {
    const newest = trusted.folders[folder]?.newestMs;
    return newest === undefined ? trusted.at - 1000 : newest + 1;
  });
  const differs = (folder: string) => {
    const before = trusted.folders[folder] ?? null;
    const after = now[folder] ?? null;
    return before?.digest !== after?.digest;
  };
  const changedFolders = LINKED_FOLDERS.filter(differs);
  if (changedFolders.length === 0) return;
  if (ctx.options.adopt) {
    ctx.events.emit({
      type: 'notice',
      message: `--adopt: keeping ${changedFolders.map((f) => path.join(ctx.repo, f)).join(' and ')} as they are now`,
    });
    await writeHeldRecord(ctx, 'dependencies', file, asRecord(at, now));
    return;
  }
  const folder = changedFolders[0] as (typeof LINKED_FOLDERS)[number];
  const walk = now[folder] ?? null;
  const where = path.join(ctx.repo, folder);
  const changed = walk?.changed ?? [];
  const names = changed.length > 0 ? firstOf(changed.map((c) => `${folder}/${c.path}`)) : 'entries removed or renamed';
  const what = !walk ? 'was removed' : trusted.folders[folder] ? `changed (${names})` : `appeared (${names})`;
  const issues = runningThen(ctx, changed);
  const who =
    issues.length > 0
      ? `while the agents of ${issues.map((i) => `#${i}`).join(', ')} ran`
      : 'while no item agent of the milestone ran';
  const undo =
    folder === 'node_modules' ? `npm ci in ${ctx.repo}` : `pip install -r <your requirements> in ${ctx.repo}`;
  throw new NeedsAttentionError(
    `${where} ${what} since the milestone's agents started, ${who}; every item worktree links to it, and the gates ` +
      `resolve packages from it, so they would pass or fail on packages no commit holds; ` +
      (when === 'before'
        ? 'the runner stopped before the gates'
        : 'it changed while the gates ran, and their result is not used') +
      `; put back what you did not install (${undo}), then run again with --adopt, ` +
      'or run again with --adopt to keep it as it is',
  );
}
