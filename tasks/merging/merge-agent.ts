/**
 * A medium conflict handed to the conflict-resolution agent in the integration worktree (docs/steps.md, "Merging"), and
 * what it left.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { REPORT_FORMAT } from '../agents/prompt.ts';
import { pendingSessions, runAgentSession, type PendingSession } from '../executors/agent-session.ts';
import type { Ctx } from '../engine/context.ts';
import { defaultSettingsFor } from '../items/agent-settings.ts';
import { leftAtConflict } from './merge-classify.ts';
import { git, gitOk, gitRaw } from '../lib/git.ts';
import { diffNames } from '../lib/diff-names.ts';
import { gitTextHead } from '../lib/git-lines.ts';
import { itemDirOf } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import { firstOf, oneLine } from '../lib/bounded-text.ts';
import { StepFailedError } from '../lib/errors.ts';

/**
 * What is merged: the item's judged sha (never the branch name, which may have moved since), and its branch for
 * messages.
 */
export interface MergeSource {
  readonly branch: string;
  readonly sha: string;
}

/**
 * How the agent left the merge: resolved and staged (to commit), committed by itself (a merge of both), or a problem.
 */
export type AgentResolution =
  { readonly kind: 'staged' | 'committed' } | { readonly kind: 'problem'; readonly text: string };

interface ConflictInput {
  readonly files: readonly string[];
  readonly branch: string;
  readonly oursDiff: string;
  readonly theirsDiff: string;
  readonly oursReports: string;
  readonly theirsReport: string;
}

/** How much of each side's diff a conflict agent's prompt quotes; the agent can run the command for the rest. */
const CONFLICT_DIFF_CHARS = 32 * 1024;

/** One side's change to the conflicted files, cut for the prompt; no diff program of the repository runs. */
function conflictDiff(wt: string, base: string, tip: string, files: readonly string[]): Promise<string> {
  const args = ['diff', '--no-ext-diff', '--no-textconv', base, tip, '--', ...files];
  return gitTextHead(wt, args, CONFLICT_DIFF_CHARS, `see git diff ${base.slice(0, 12)} ${tip.slice(0, 12)}`);
}

function conflictPrompt(ctx: Ctx, item: PlanItem, c: ConflictInput): string {
  return [
    `You are resolving a merge conflict on the integration branch ${ctx.plan.milestone.integrationBranch} (worktree ${ctx.integrationWorktree}).`,
    `Item #${item.issue} "${item.title}" (branch ${c.branch}) is being merged and conflicts in: ${c.files.join(', ')}.`,
    `The merge is in progress. Edit the conflicted files so that both changes work together, remove every conflict marker, and run \`git add\` on them. Do not commit, do not abort the merge, do not switch branches.`,
    `## What integration changed in these files\n\`\`\`diff\n${c.oursDiff}\n\`\`\``,
    `## Reports of the items already merged there\n${c.oursReports || '(none)'}`,
    `## What #${item.issue} changed in these files\n\`\`\`diff\n${c.theirsDiff}\n\`\`\``,
    `## Report of #${item.issue}\n${c.theirsReport || '(none)'}`,
    REPORT_FORMAT,
  ].join('\n\n');
}

/**
 * Whether the merge of `branch` onto `prev` is still in progress after the agent, or the agent committed it
 * properly (HEAD's parents are `prev` and the branch tip; with squash, `prev` alone); anything else ended it.
 */
async function mergeStateAfter(ctx: Ctx, source: MergeSource, prev: string): Promise<AgentResolution> {
  const branch = source.branch;
  const wt = ctx.integrationWorktree;
  const squash = ctx.plan.defaults.merge === 'squash';
  const head = await git(wt, ['rev-parse', 'HEAD']);
  if (squash ? head === prev : await gitOk(wt, ['rev-parse', '-q', '--verify', 'MERGE_HEAD'])) {
    // A squash merge shows no MERGE_HEAD: one that was given up leaves nothing staged.
    if (squash && (await gitOk(wt, ['diff', '--cached', '--quiet'])))
      return { kind: 'problem', text: 'the conflict agent ended the merge: nothing is staged' };
    return { kind: 'staged' };
  }
  const parents = (await git(wt, ['rev-list', '--parents', '-n', '1', 'HEAD'])).split(' ').slice(1);
  const expected = squash ? [prev] : [prev, source.sha];
  if (parents.join(' ') === expected.join(' ')) return { kind: 'committed' };
  return {
    kind: 'problem',
    text: `the conflict agent ended the merge: no merge in progress and HEAD (${head.slice(0, 10)}) is not a merge of integration and ${branch}`,
  };
}

/** What a conflict agent works on: the merge of `sha` onto `prev`, conflicting in `files`. */
interface ConflictKey {
  readonly prev: string;
  readonly sha: string;
  readonly files: readonly string[];
}

const keyText = (key: ConflictKey): string => JSON.stringify({ prev: key.prev, sha: key.sha, files: key.files });

function parseKey(text: string | undefined): ConflictKey | null {
  try {
    const key = JSON.parse(text ?? '') as ConflictKey;
    return typeof key.prev === 'string' && typeof key.sha === 'string' && Array.isArray(key.files) ? key : null;
  } catch {
    return null;
  }
}

/**
 * After a restart, once a conflict agent a dead runner left has ended (before the merge queue undoes the merge in
 * progress and redoes it): its edits of the conflicted files are kept as blobs in its session record, and a merge it
 * committed itself is undone, so the redone merge gets them back (`resolveWithAgent`) instead of a second agent.
 */
export async function keepConflictResolution(ctx: Ctx, session: PendingSession): Promise<void> {
  const key = parseKey(session.key);
  if (session.role !== 'conflict' || !key || session.resolution) return;
  const wt = ctx.integrationWorktree;
  const resolution: Record<string, string | null> = {};
  for (const file of key.files)
    resolution[file] = existsSync(path.join(wt, file)) ? await git(wt, ['hash-object', '-w', '--', file]) : null;
  const parents = (await gitRaw(wt, ['rev-list', '--parents', '-n', '1', 'HEAD'])).stdout.trim().split(' ').slice(1);
  const squash = ctx.plan.defaults.merge === 'squash';
  if (parents.join(' ') === (squash ? [key.prev] : [key.prev, key.sha]).join(' '))
    await git(ctx.integrationWorktree, ['reset', '-q', '--hard', key.prev]);
  await ctx.store.update((s) => {
    s.sessions = (s.sessions ?? []).map((r) => (r.id === session.id ? { ...r, resolution } : r));
  });
}

/** Put back the edits a re-attached conflict agent made to the same merge before the runner restarted. */
async function restoreResolution(ctx: Ctx, key: string): Promise<void> {
  const session = pendingSessions(ctx).find((s) => s.role === 'conflict' && s.key === key);
  if (!session?.resolution) return;
  const wt = ctx.integrationWorktree;
  for (const [file, blob] of Object.entries(session.resolution)) {
    if (blob === null) {
      await rm(path.join(wt, file), { force: true });
      continue;
    }
    // Through the index, so binary content is written as it was; staged, as the agent was asked to leave it.
    const mode = (await git(wt, ['ls-files', '-s', '--', file])).split(' ')[0] || '100644';
    await git(wt, ['update-index', '--add', '--cacheinfo', `${mode},${blob},${file}`]);
    await git(wt, ['checkout-index', '-f', '--', file]);
  }
}

/** Run the conflict agent on `files` of the merge in progress, then check what it left. */
export async function resolveWithAgent(
  ctx: Ctx,
  item: PlanItem,
  source: MergeSource,
  files: readonly string[],
  prev: string,
): Promise<AgentResolution> {
  const wt = ctx.integrationWorktree;
  const branch = source.branch;
  const base = await git(wt, ['merge-base', prev, source.sha]);
  const items = ctx.store.current().items;
  const describe = (issue: number) => {
    const r = items[String(issue)]?.result?.report;
    return r
      ? `#${issue}: STATUS ${r.status}; files ${r.filesChanged.join(', ') || 'none'}; notes: ${r.notes || 'none'}`
      : '';
  };
  const merged = Object.values(items).filter((i) => i.merge?.sha && i.result?.files.some((f) => files.includes(f)));
  const input: ConflictInput = {
    files,
    branch,
    oursDiff: await conflictDiff(wt, base, prev, files),
    theirsDiff: await conflictDiff(wt, base, source.sha, files),
    oursReports: merged
      .map((i) => describe(i.issue))
      .filter(Boolean)
      .join('\n'),
    theirsReport: describe(item.issue),
  };
  const key = keyText({ prev, sha: source.sha, files });
  await restoreResolution(ctx, key);
  const session = await runAgentSession(ctx, {
    role: 'conflict',
    issue: item.issue,
    title: item.title,
    wave: item.wave,
    worktree: wt,
    branch: ctx.plan.milestone.integrationBranch,
    prompt: conflictPrompt(ctx, item, input),
    settings: defaultSettingsFor(ctx),
    dir: itemDirOf(ctx.stateDir, item.issue),
    name: 'conflict',
    key,
  });
  if (!session.outcome.ok)
    return { kind: 'problem', text: `the conflict agent failed: ${session.outcome.failure ?? ''}` };
  // Checked before anything is staged: an agent that aborted the merge leaves files without markers too.
  const state = await mergeStateAfter(ctx, source, prev);
  if (state.kind === 'problem') return state;
  for (const file of files) {
    const left = await leftAtConflict(path.join(wt, file));
    if (left === 'markers') return { kind: 'problem', text: `the conflict agent left conflict markers in ${file}` };
    if (left === 'not a file')
      return { kind: 'problem', text: `the conflict agent left ${file} as something git cannot stage (not a file)` };
  }
  if (state.kind === 'committed') {
    // A merge it committed itself is amended with the queue's message from the index: only its commit is checked,
    // so what it staged after that commit is dropped first.
    await git(wt, ['reset', '-q']);
  } else {
    // -A stages a resolution that deletes a file, too.
    await git(wt, ['add', '-A', '--', ...files]);
    const unmerged = await diffNames(wt, ['--diff-filter=U']);
    if (unmerged.length > 0)
      return { kind: 'problem', text: `still unmerged after the conflict agent: ${firstOf(unmerged)}` };
  }
  const outside = await changedOutsideConflict(wt, prev, source.sha, files, state.kind === 'committed');
  return outside.length > 0
    ? {
        kind: 'problem',
        text:
          `the conflict agent changed files outside the conflicted ones (${firstOf(outside)}); nobody judged ` +
          'those changes, so a person decides',
      }
    : state;
}

/**
 * The paths where what the conflict agent leaves (the commit it made, else the index) differs from git's own merge
 * of `sha` onto `prev`, other than the conflicted `files`: only those were its to resolve. Anything else (another
 * item's file deleted, a file added) would land judged by nobody, reported as "conflict resolved".
 */
async function changedOutsideConflict(
  wt: string,
  prev: string,
  sha: string,
  files: readonly string[],
  committed: boolean,
): Promise<string[]> {
  // Conflicts make it exit 1; the tree it wrote (markers in the conflicted files) is on the first line all the same.
  const auto = await gitRaw(wt, ['merge-tree', '--write-tree', '--no-messages', prev, sha]);
  const tree = auto.stdout.split('\n')[0]?.trim() ?? '';
  if ((auto.exitCode !== 0 && auto.exitCode !== 1) || !/^[0-9a-f]{40,64}$/.test(tree))
    throw new StepFailedError(
      `git merge-tree ${prev.slice(0, 10)} ${sha.slice(0, 10)} failed in ${wt}: ${oneLine(auto.stderr)}`,
    );
  const left = committed ? 'HEAD^{tree}' : await git(wt, ['write-tree']);
  const conflicted = new Set(files);
  return (await diffNames(wt, [tree, left])).filter((f) => !conflicted.has(f));
}
