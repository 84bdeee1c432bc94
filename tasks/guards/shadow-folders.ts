/**
 * Dependency folders that would shadow the checkout's own for the gates. The gates run in the integration worktree,
 * inside the user's checkout: Node resolves packages from `node_modules` in each folder up to the checkout's, so one
 * an agent makes in the integration worktree or in the worktree root (`mkdir -p ../milestone-7/node_modules/pkg`) wins
 * over the trusted one (guards/dependency-guard.ts), and git sees none of it (ignored). Before a gate run:
 * - the worktree root and the folders above the integration worktree hold worktrees only: a dependency folder there
 *   is moved aside, whoever made it;
 * - the integration worktree's own is the gates' (an install step): kept as the last gate run left it, moved aside
 *   when anyone else changed it or made it (an install by a fix agent is redone by the gate that needs it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Ctx, TrustedDependencies } from '../engine/context.ts';
import { fileStamp, moveEntry } from '../lib/fs-paths.ts';
import { LINKED_FOLDERS } from '../lib/paths.ts';
import { stampTree } from '../lib/tree-stamp.ts';
import { readHeldRecord, writeHeldRecord } from './held-record.ts';

/** The record of the integration worktree's folders as the gates left them, in the milestone's state dir. */
export const GATES_DEPENDENCIES_FILE = 'dependencies-gates.json';

/** Where what is moved aside goes, in the gate run's log folder. */
export const SHADOWS_ASIDE = 'dependencies-before-gates';

const fileOf = (ctx: Ctx) => path.join(ctx.stateDir, GATES_DEPENDENCIES_FILE);

/** The folders between the integration worktree and the checkout (the worktree root …), without either. */
function foldersAbove(ctx: Ctx): string[] {
  const out: string[] = [];
  const rel = path.relative(ctx.repo, ctx.integrationWorktree);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return out;
  for (let dir = path.dirname(ctx.integrationWorktree); dir !== ctx.repo; dir = path.dirname(dir)) {
    if (dir === path.dirname(dir)) break;
    out.push(dir);
  }
  return out;
}

/** The stamps (digests) of the integration worktree's dependency folders now. */
function stampOwn(ctx: Ctx): TrustedDependencies {
  const at = Date.now();
  const folders = Object.fromEntries(
    LINKED_FOLDERS.map((f) => {
      const walk = stampTree(path.join(ctx.integrationWorktree, f));
      return [f, walk && { entries: walk.entries, digest: walk.digest }];
    }),
  );
  return { at, folders };
}

/** Move aside the dependency folders that would shadow the checkout's for the gates about to run (see above). */
export async function moveShadowsAside(ctx: Ctx, logDir: string): Promise<void> {
  const aside = path.join(logDir, SHADOWS_ASIDE, fileStamp());
  const moved: string[] = [];
  for (const dir of foldersAbove(ctx))
    for (const f of LINKED_FOLDERS) {
      const from = path.join(dir, f);
      if (!existsSync(from)) continue;
      moveEntry(from, path.join(aside, path.relative(ctx.repo, from)));
      moved.push(from);
    }
  const record = await readHeldRecord(ctx, 'gatesDependencies', fileOf(ctx), ['folders']);
  const now = stampOwn(ctx);
  for (const f of LINKED_FOLDERS) {
    const stamp = now.folders[f] ?? null;
    if (stamp === null || stamp.digest === record?.folders[f]?.digest) continue;
    const from = path.join(ctx.integrationWorktree, f);
    moveEntry(from, path.join(aside, path.relative(ctx.repo, from)));
    moved.push(from);
  }
  if (moved.length === 0) return;
  ctx.events.emit({
    type: 'notice',
    message:
      `${moved.join(', ')}: dependency folders the gates did not leave, which they would resolve packages from ` +
      `before your checkout's; moved aside to ${aside}, so the gates use what you installed (or install again)`,
  });
}

/** Record the integration worktree's dependency folders as the gates left them: theirs, kept for the next run. */
export async function recordGatesDependencies(ctx: Ctx): Promise<void> {
  await writeHeldRecord(ctx, 'gatesDependencies', fileOf(ctx), stampOwn(ctx));
}
