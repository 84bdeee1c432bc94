/**
 * The refs guard: the runner records every tip it sets (the integration branch) or has seen (main, origin's main)
 * and checks them before each merge, gate run and landing. A move it did not make stops the run with the ref, the
 * old and new sha, and the commands to inspect or restore; a deleted integration branch is recreated from its record.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { commandLine } from '../lib/command-words.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import type { Ctx } from '../engine/context.ts';
import { NeedsAttentionError } from '../lib/errors.ts';
import { checkTrustedConfig } from './config-guard.ts';
import { freshRead } from '../lib/fresh-read.ts';
import { headFileBranch, headFileSha, looseRef } from '../lib/git-files.ts';
import { setAsideBrokenWorktree } from '../lib/worktree-repair.ts';
import { addWorktree, git, gitRaw, isAncestor, revParse } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import type { RefsRecord } from '../lib/state-types.ts';
import { updateItem } from '../lib/state-items.ts';
import { removeStaleLocks } from '../lib/stale-locks.ts';

const EMPTY: RefsRecord = { integration: null, main: null, originMain: null, pending: null };

/** Where the milestone's pins are (`refs/work-milestone/<id>/items/`). */
export function pinsPrefixOf(ctx: Ctx): string {
  return `refs/work-milestone/${ctx.plan.milestone.id}/items/`;
}

/** The ref that keeps an item's judged commits alive whatever happens to its branch. */
export function pinRefOf(ctx: Ctx, issue: number): string {
  return `${pinsPrefixOf(ctx)}${issue}`;
}

/** What went wrong per pin ref of one write (a pin not named here was written). */
type PinFailures = ReadonlyMap<string, unknown>;

/** Pin writes of one repository: the one being written, and those that asked meanwhile (written next, together). */
interface PinQueue {
  current: Promise<PinFailures> | null;
  next: { readonly pins: Map<string, string>; readonly done: Promise<PinFailures> } | null;
}

const pinQueues = new Map<string, PinQueue>();

async function writeOnePin(repo: string, ref: string, sha: string): Promise<unknown> {
  try {
    await git(repo, ['update-ref', '-m', 'work-milestone: judged', ref, sha]);
    return undefined;
  } catch (error) {
    return error ?? new Error(`update-ref ${ref} failed`);
  }
}

async function writePins(repo: string, pins: ReadonlyMap<string, string>): Promise<PinFailures> {
  const failures = new Map<string, unknown>();
  if (pins.size > 1) {
    const lines = [...pins].map(([ref, sha]) => `update ${ref} ${sha}\n`).join('');
    const out = await gitRaw(repo, ['update-ref', '-m', 'work-milestone: judged', '--stdin'], { input: lines }).catch(
      () => null,
    );
    if (out?.exitCode === 0) return failures;
  }
  // One pin, or a transaction that failed as a whole: each pin alone, so each caller gets its own answer.
  for (const [ref, sha] of pins) {
    const error = await writeOnePin(repo, ref, sha);
    if (error !== undefined) failures.set(ref, error);
  }
  return failures;
}

/**
 * Write the pin ref of `issue` at `sha`. Agents judged at the same moment share one `update-ref --stdin`: a pin asked
 * for while another write runs is written in the next one, and every caller returns only once its own pin is written
 * (or throws what failed for its own pin).
 */
export async function writePin(ctx: Ctx, issue: number, sha: string): Promise<void> {
  const repo = ctx.repo;
  const ref = pinRefOf(ctx, issue);
  let q = pinQueues.get(repo);
  if (!q) {
    q = { current: null, next: null };
    pinQueues.set(repo, q);
  }
  const queue = q;
  const start = (pins: ReadonlyMap<string, string>): Promise<PinFailures> => {
    const p = writePins(repo, pins);
    queue.current = p;
    const done = () => {
      if (queue.current === p) queue.current = null;
      if (!queue.current && !queue.next) pinQueues.delete(repo);
    };
    p.then(done, done);
    return p;
  };
  let written: Promise<PinFailures>;
  if (!queue.current) {
    written = start(new Map([[ref, sha]]));
  } else {
    if (!queue.next) {
      const pins = new Map<string, string>();
      const done = queue.current
        .catch(() => new Map())
        .then(() => {
          queue.next = null;
          return start(pins);
        });
      queue.next = { pins, done };
    }
    const batch = queue.next;
    // The same item again before the write: one transaction may not name a ref twice, so this one waits its turn.
    if (batch.pins.has(ref)) {
      await batch.done;
      return writePin(ctx, issue, sha);
    }
    batch.pins.set(ref, sha);
    written = batch.done;
  }
  const failures = await written;
  if (failures.has(ref)) throw failures.get(ref);
}

/** Pin `sha` as the judged tip of `issue` (the ref first: state never names a sha that git may collect). */
export async function pinItem(ctx: Ctx, issue: number, sha: string): Promise<void> {
  await writePin(ctx, issue, sha);
  await ctx.store.update((s) => {
    updateItem(s, issue, { pinned: sha });
  });
}

function refsOf(ctx: Ctx): RefsRecord {
  return ctx.store.current().refs ?? EMPTY;
}

/** `refs` (absent in older state) with `change` applied: for updates that change other state in the same write. */
export function patchRefs(refs: RefsRecord | undefined, change: Partial<RefsRecord>): RefsRecord {
  return { ...(refs ?? EMPTY), ...change };
}

/** Record what the refs guard now knows. */
export async function setRefs(ctx: Ctx, change: Partial<RefsRecord>): Promise<void> {
  await ctx.store.update((s) => {
    s.refs = patchRefs(s.refs, change);
  });
}

const short = (sha: string) => sha.slice(0, 10);

/** The integration worktree's HEAD: its HEAD file and the branch's loose ref when they say it, else git. */
export async function integrationHead(ctx: Ctx): Promise<string> {
  const dir = ctx.integrationWorktree;
  return headFileSha(dir, ctx.commonDir) ?? (await git(dir, ['rev-parse', 'HEAD']));
}

/**
 * The integration branch's tip. `expected` (a tip git gave the runner: the recorded one, the merge it just made) is
 * taken from the loose ref file when the file holds exactly it, the file git reads first; anything else asks git.
 */
export async function integrationTip(ctx: Ctx, expected: string | null = null): Promise<string | null> {
  const ref = `refs/heads/${ctx.plan.milestone.integrationBranch}`;
  if (expected && looseRef(ctx.commonDir, ref) === expected) return expected;
  return revParse(ctx.repo, ref);
}

/**
 * Record the integration tip the runner just set (the branch step, and the end of every operation on it); `known`:
 * the tip git told the operation it left (confirmed from the ref file, else read from git).
 */
export async function recordIntegration(ctx: Ctx, known: string | null = null): Promise<void> {
  const tip = await integrationTip(ctx, known);
  if (tip) await setRefs(ctx, { integration: tip, pending: null });
}

/** Record the main (and origin's main) the milestone starts from: later, they may only move forward. */
export async function recordMainSeen(ctx: Ctx, main: string, originMain: string | null): Promise<void> {
  await setRefs(ctx, { main, originMain });
}

/** What stops a milestone whose `main` was deleted after the runner saw it. */
export function noMainAnyMore(ctx: Ctx): string {
  return `${ctx.repo} has no branch ${MAIN_BRANCH} any more; restore it (git reflog shows where it was), then run again`;
}

/**
 * Put a deleted integration branch back at its recorded tip. Returns whether it did; without a record (state of an
 * older version) nothing can be restored.
 */
export async function restoreIntegration(ctx: Ctx): Promise<boolean> {
  const name = ctx.plan.milestone.integrationBranch;
  const recorded = refsOf(ctx).integration;
  if (!recorded) return false;
  // A loose ref file with a sha means the branch is there (no git call); otherwise agents judged at the same moment
  // share one read of the branch, made after each of them ended.
  const ref = `refs/heads/${name}`;
  if (looseRef(ctx.commonDir, ref)) return false;
  if (await freshRead(`rev\0${ctx.repo}\0${ref}`, () => revParse(ctx.repo, ref))) return false;
  if (!(await revParse(ctx.repo, recorded))) return false;
  // A loose ref file git cannot read ("reference broken": an agent wrote something else into it) would refuse the
  // create below on every run: it is moved into the state folder (kept) first.
  const broken = await setAsideBrokenRef(ctx, ref);
  // Create-only (the zero old value): never overwrite a branch that came back meanwhile.
  await git(ctx.repo, [
    'update-ref',
    '-m',
    'work-milestone: restore deleted integration branch',
    `refs/heads/${name}`,
    recorded,
    '0'.repeat(40),
  ]);
  ctx.events.emit({
    type: 'notice',
    message: broken
      ? `${name} was no ref git can read (its file was changed by someone other than the runner; kept as ${broken}); recreated at its recorded tip ${short(recorded)}`
      : `${name} was deleted by someone other than the runner; recreated at its recorded tip ${short(recorded)}`,
  });
  return true;
}

/** Move the loose file of `ref` into the state folder when it holds no ref git reads; where it went, or null. */
async function setAsideBrokenRef(ctx: Ctx, ref: string): Promise<string | null> {
  const file = path.join(ctx.commonDir, ref);
  if (!existsSync(file)) return null;
  const aside = path.join(ctx.stateDir, 'broken-refs', `${ref.replace(/\//g, '_')}-${Date.now()}`);
  await mkdir(path.dirname(aside), { recursive: true });
  await rename(file, aside);
  return aside;
}

/**
 * Make the integration worktree again when someone removed it (an agent runs as the same user), or removed the admin
 * folder its `.git` file names (git no longer sees a worktree there; its files are moved aside, kept). Nothing in it
 * was the runner's but the branch. True when it was made again.
 */
export async function repairIntegrationWorktree(ctx: Ctx): Promise<boolean> {
  const name = ctx.plan.milestone.integrationBranch;
  const wt = ctx.integrationWorktree;
  const why = existsSync(wt) ? await setAsideBrokenWorktree(ctx.commonDir, wt) : 'was removed';
  if (why === null) return false;
  // Its admin entry is stale now: pruned, or git would call the branch checked out there still.
  await git(ctx.repo, ['worktree', 'prune']);
  await addWorktree(ctx.repo, ctx.commonDir, [wt, name]);
  ctx.events.emit({
    type: 'notice',
    message: `the integration worktree ${wt} ${why} (not by the runner); made it again on ${name}`,
  });
  return true;
}

/**
 * The integration worktree must be on the integration branch: put it back when it is clean, report it when not; made
 * again when it is gone.
 */
async function checkIntegrationWorktree(ctx: Ctx): Promise<void> {
  const name = ctx.plan.milestone.integrationBranch;
  const wt = ctx.integrationWorktree;
  if (await repairIntegrationWorktree(ctx)) return;
  // The worktree's HEAD file naming the branch is what git reads; anything else is asked of git.
  if (headFileBranch(wt) === name) return;
  const head = (await gitRaw(wt, ['symbolic-ref', '-q', 'HEAD'])).stdout.trim();
  if (head === `refs/heads/${name}`) return;
  const on = head ? head.replace(/^refs\/heads\//, '') : 'a detached HEAD';
  if ((await dirtyPaths(wt)).length > 0) {
    throw new NeedsAttentionError(
      `the integration worktree ${wt} was switched to ${on} (not by the runner) and has uncommitted changes; inspect them with git -C ${wt} status, then run git -C ${wt} switch ${name} and run again`,
    );
  }
  await git(wt, ['switch', '-q', name]);
  ctx.events.emit({
    type: 'notice',
    message: `the integration worktree was switched to ${on} (not by the runner); switched it back to ${name}`,
  });
}

/**
 * Check that the integration branch is where the runner left it. A deleted branch is recreated; a branch moved by
 * someone else stops the run (exit 3), unless `--adopt` says to take its new tip (the gates judge it before landing).
 */
export async function checkIntegration(ctx: Ctx): Promise<string | null> {
  const name = ctx.plan.milestone.integrationBranch;
  await restoreIntegration(ctx);
  const { integration: recorded, pending } = refsOf(ctx);
  const tip = await integrationTip(ctx, recorded);
  if (!tip) return null;
  if (!recorded) {
    await recordIntegration(ctx, tip);
  } else if (tip !== recorded) {
    // A crash inside one of the runner's own operations: what it added on top of where it began is its own.
    const ours = pending !== null && (await isAncestor(ctx.repo, pending.from, tip));
    if (ours || ctx.options.adopt) {
      if (!ours)
        ctx.events.emit({
          type: 'notice',
          message: `--adopt: taking ${name} at ${short(tip)} (was ${short(recorded)}); the gates judge it before it lands`,
        });
      await recordIntegration(ctx, tip);
    } else {
      const forward = await isAncestor(ctx.repo, recorded, tip);
      const inspect = forward
        ? `git log --stat ${short(recorded)}..${short(tip)}`
        : `git log --stat ${short(tip)}..${short(recorded)} (what was dropped)`;
      throw new NeedsAttentionError(
        `${name} moved from ${short(recorded)} to ${short(tip)}, and the runner did not move it${forward ? ' (commits were added)' : ' (it was rewound or rewritten)'}; ` +
          `inspect with: ${inspect}; to restore it: git -C ${ctx.integrationWorktree} reset --hard ${recorded}; to keep the new tip: run again with --adopt`,
      );
    }
  }
  await checkIntegrationWorktree(ctx);
  return tip;
}

/**
 * Stop when this runner no longer holds `run.lock`: an agent (the same user) removed it and another runner of the
 * milestone took it meanwhile; two runners would merge over each other. A lock removed or replaced by something no
 * live process holds is taken again, with a notice.
 */
function checkRunLock(ctx: Ctx): void {
  const found = ctx.runLock?.check();
  if (!found || found.kind === 'held') return;
  const file = path.join(ctx.stateDir, 'run.lock');
  if (found.kind === 'retaken') {
    ctx.events.emit({
      type: 'notice',
      message: `${file} was removed or replaced while this runner ran; took it again`,
    });
    return;
  }
  const who = found.owner ? `pid ${found.owner.pid} (${found.owner.command})` : 'another process';
  throw new NeedsAttentionError(
    `${file} now names ${who}: milestone ${ctx.plan.milestone.id}'s lock was removed while this runner ran (by an ` +
      'agent?) and another runner took it; this one stopped before merging, gating or landing, and its agents keep ' +
      `running for the other; see: ${commandLine(ctx.entry, 'status', [ctx.plan.milestone.id])}`,
  );
}

/**
 * Run a runner operation that moves the integration branch: checked before, recorded after (also when it fails).
 * `fn` gets the tip it starts from (null: no branch), with the integration worktree on the branch. `tipOf` may say
 * which tip git told the operation it left (confirmed from the ref file before it is recorded).
 */
export async function changeIntegration<T>(
  ctx: Ctx,
  op: string,
  fn: (from: string | null) => Promise<T>,
  tipOf: (result: T) => string | null = () => null,
): Promise<T> {
  // Only the runner that holds the milestone's lock merges, gates or lands.
  checkRunLock(ctx);
  // No merge, gate run or landing runs a program an agent put in the git config.
  await checkTrustedConfig(ctx);
  // A git killed in the integration worktree (a crash, an agent stopped at its limit) must not stop every run.
  removeStaleLocks(ctx.integrationWorktree, ctx.commonDir, ctx.plan.milestone.integrationBranch, (message) =>
    ctx.events.emit({ type: 'notice', message }),
  );
  // The tip just checked is the one the operation starts from: a second read could only see a later move unchecked.
  const from = await checkIntegration(ctx);
  if (from) await setRefs(ctx, { pending: { from, op } });
  let known: string | null = null;
  try {
    const result = await fn(from);
    known = tipOf(result);
    return result;
  } finally {
    await recordIntegration(ctx, known);
  }
}

/**
 * `main` (and origin's `main`, when `origin` is given) may only move forward from what the runner saw last: new
 * commits are brought in and gated, a rewind or a rewrite stops the run before anything lands. Records what it saw.
 */
export async function checkMain(
  ctx: Ctx,
  origin: boolean,
): Promise<{ readonly main: string; readonly originMain: string | null }> {
  const seen = refsOf(ctx);
  const lastMain = seen.main ?? ctx.store.current().branch?.base ?? null;
  // main's loose ref file still at what was seen last (a commit then): no move to look at.
  const unmoved = lastMain !== null && looseRef(ctx.commonDir, `refs/heads/${MAIN_BRANCH}`) === lastMain;
  const main = unmoved ? lastMain : await revParse(ctx.repo, `refs/heads/${MAIN_BRANCH}`);
  if (!main) throw new NeedsAttentionError(noMainAnyMore(ctx));
  if (lastMain && !unmoved && !ctx.options.adopt && !(await isAncestor(ctx.repo, lastMain, main))) {
    throw new NeedsAttentionError(
      `${MAIN_BRANCH} moved from ${short(lastMain)} to ${short(main)} without keeping ${short(lastMain)} (rewound or rewritten; the runner never does that); ` +
        `nothing was landed; inspect with: git log --oneline ${short(main)}...${short(lastMain)}; to restore it: git update-ref refs/heads/${MAIN_BRANCH} ${lastMain} ${main}; to accept it: run again with --adopt`,
    );
  }
  if (seen.suspect && (await isAncestor(ctx.repo, seen.suspect.to, main))) {
    if (!ctx.options.adopt) {
      const { from, to, reason } = seen.suspect;
      throw new NeedsAttentionError(
        `${MAIN_BRANCH} has commits nobody vouched for (${reason}): ${short(from)}..${short(to)}; nothing was landed; inspect with: git log --stat ${short(from)}..${short(to)}; ` +
          `to drop them: git update-ref refs/heads/${MAIN_BRANCH} ${from} ${main} (when nothing else came after); to keep them: run again with --adopt`,
      );
    }
    ctx.events.emit({
      type: 'notice',
      message: `--adopt: keeping the commits ${short(seen.suspect.from)}..${short(seen.suspect.to)} on ${MAIN_BRANCH}`,
    });
  }
  let originMain: string | null = null;
  if (origin) {
    originMain = await revParse(ctx.repo, `refs/remotes/origin/${MAIN_BRANCH}`);
    const lastOrigin = seen.originMain;
    if (lastOrigin && originMain && !ctx.options.adopt && !(await isAncestor(ctx.repo, lastOrigin, originMain))) {
      throw new NeedsAttentionError(
        `origin's ${MAIN_BRANCH} moved from ${short(lastOrigin)} to ${short(originMain)} without keeping ${short(lastOrigin)} (force-pushed; the runner never does that); ` +
          `nothing was landed; inspect with: git log --oneline ${short(originMain)}...${short(lastOrigin)}; restore origin's ${MAIN_BRANCH} by hand, or run again with --adopt to accept it`,
      );
    }
  }
  await setRefs(ctx, { main, suspect: null, ...(origin ? { originMain } : {}) });
  return { main, originMain };
}
