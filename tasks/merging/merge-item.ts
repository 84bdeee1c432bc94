/** Merge one item branch into integration by its conflict class (docs/steps.md, "Merging"). */
import { capList, firstOf, LIST_CAP, oneLine } from '../lib/bounded-text.ts';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { explainGateFailure, gateApplies, gateOutputTail } from '../gating/gate-run.ts';
import { runGatesOnHead } from '../gating/gates-on-head.ts';
import { runGateAt } from '../gating/bisect-run.ts';
import { resolveWithAgent, type MergeSource } from './merge-agent.ts';
import { classifyConflicts, predictConflicts } from './merge-classify.ts';
import { git, gitOk, gitRaw, type GitResult } from '../lib/git.ts';
import { diffNames } from '../lib/diff-names.ts';
import { StepFailedError } from '../lib/errors.ts';
import { headFileSha } from '../lib/git-files.ts';
import { strayCommits, takenBy, type PassHistory } from '../lib/git-foreign.ts';
import { itemDirOf } from '../lib/paths.ts';
import type { PlanItem } from '../lib/plan/types.ts';
import type { GateResult, ItemMerge } from '../lib/state-types.ts';
import type { Progress } from '../engine/step.ts';
import { writeOwnFile } from '../lib/own-file.ts';

/** How one merge ended: merged (with its record), or to be escalated (with why), or gates red (fixable). */
export type MergeOutcome =
  | { readonly kind: 'merged'; readonly merge: Omit<ItemMerge, 'followUp'> }
  | {
      readonly kind: 'escalate';
      readonly conflict: ItemMerge['kind'];
      readonly files: readonly string[];
      readonly note: string;
    }
  | {
      readonly kind: 'red';
      readonly conflict: ItemMerge['kind'];
      readonly gate: GateResult;
      /** The merge the gate was red on: still integration's HEAD, for the caller to keep or undo. */
      readonly merge: Omit<ItemMerge, 'followUp'> & { readonly sha: string };
    };

/** `Merge #42: Tokenizer`, one line. */
export function mergeMessage(item: PlanItem): string {
  return `Merge #${item.issue}: ${oneLine(item.title)}`.slice(0, 200);
}

const wt = (ctx: Ctx) => ctx.integrationWorktree;

/**
 * Leave the integration worktree at `sha` with no merge in progress and no untracked file (only ever in the
 * integration worktree, the runner's own). Untracked files there are what an interrupted git left: a runner killed
 * mid-merge takes its git's pipes with it, and a git killed by SIGPIPE has written new files but not the index. Ignored
 * files (a gate's node_modules) stay.
 */
export async function resetIntegration(ctx: Ctx, sha: string): Promise<void> {
  if (await gitOk(wt(ctx), ['rev-parse', '-q', '--verify', 'MERGE_HEAD'])) await gitRaw(wt(ctx), ['merge', '--abort']);
  await git(wt(ctx), ['reset', '-q', '--hard', sha]);
  await git(wt(ctx), ['clean', '-q', '-f', '-d']);
}

/** `git merge` of `branch` left uncommitted (`--no-ff --no-commit`, or `--squash`). */
function mergeUncommitted(ctx: Ctx, branch: string, extra: readonly string[] = []): Promise<GitResult> {
  const mode = ctx.plan.defaults.merge === 'squash' ? ['--squash'] : ['--no-ff', '--no-commit'];
  return gitRaw(wt(ctx), ['merge', '-q', ...mode, ...extra, branch]);
}

async function startMerge(ctx: Ctx, branch: string, extra: readonly string[] = []): Promise<boolean> {
  return (await mergeUncommitted(ctx, branch, extra)).exitCode === 0;
}

/**
 * Start a merge that conflicts in `files` (as predicted) and leave it in progress; a merge git did not start (a lock,
 * local changes) or one without those conflicts is a failed step naming what git said, not a resolution of nothing.
 */
async function startConflictedMerge(ctx: Ctx, branch: string, files: readonly string[]): Promise<void> {
  const merged = await mergeUncommitted(ctx, branch);
  const unmerged = new Set(await diffNames(wt(ctx), ['--diff-filter=U']));
  const missing = files.filter((f) => !unmerged.has(f));
  if (missing.length > 0)
    throw new StepFailedError(
      `merging ${branch} in ${wt(ctx)} was to conflict in ${missing.join(', ')} but did not (git merge exited ${merged.exitCode}: ${oneLine(merged.stderr || merged.stdout).slice(0, 300)})`,
    );
}

async function commitMerge(
  ctx: Ctx,
  item: PlanItem,
  parents: readonly string[],
  extra: readonly string[] = [],
): Promise<string | null> {
  await git(wt(ctx), ['commit', '-q', '--allow-empty', ...extra, '-m', mergeMessage(item)]);
  // git takes the other parents from MERGE_HEAD, which a conflict agent can write: a commit it named there would join
  // the branch's history unjudged (its content dropped, and the item it belongs to merged later as "empty").
  const [sha = '', ...got] = (await git(wt(ctx), ['rev-list', '--parents', '-n', '1', 'HEAD'])).split(' ');
  return got.join(' ') === parents.join(' ') ? sha : null;
}

/** Pre-merge gates on the merge result (those whose `files` match what the merge changed): the red one, or null. */
export async function preMergeGates(
  ctx: Ctx,
  item: PlanItem,
  files: readonly string[],
  sha: string,
): Promise<GateResult | null> {
  const gates = ctx.plan.gates.preMerge
    .filter((g) => gateApplies(g, files))
    .map((gate) => ({ gate, phase: 'pre-merge' as const }));
  const logDir = path.join(itemDirOf(ctx.stateDir, item.issue), `gates-${sha.slice(0, 12)}`);
  const { green, results } = await runGatesOnHead(ctx, gates, logDir, (r) =>
    ctx.events.emit({ type: 'gate', name: r.name, phase: r.phase, exitCode: r.exitCode, sha }),
  );
  return green ? null : (results[results.length - 1] as GateResult);
}

/**
 * The pre-merge gate `red` run once more on `sha`, the tip before the merge that turned it red, in the scratch worktree
 * (integration stays where it is; the caller removes the scratch worktree): its result when red there too (the item
 * is then not to blame), else null. A gate for some files only is run there only when the merges before changed some
 * of them: otherwise it may fail only because they are not there yet.
 */
export async function redBeforeMerge(
  ctx: Ctx,
  item: PlanItem,
  red: GateResult,
  sha: string,
): Promise<GateResult | null> {
  const gate = ctx.plan.gates.preMerge.find((g) => g.name === red.name);
  if (!gate) return null;
  // One for some files says something before the merge only when earlier merges changed those files already.
  const base = ctx.store.current().branch?.base;
  if (gate.files.length > 0 && !(base && gateApplies(gate, await diffNames(wt(ctx), [base, sha])))) return null;
  const logDir = path.join(itemDirOf(ctx.stateDir, item.issue), `gates-${sha.slice(0, 12)}-before`);
  return runGateAt(ctx, { gate, phase: 'pre-merge' }, sha, logDir);
}

/** Union of both sides for files where both only added lines (stable: ours, then theirs). */
async function resolveByUnion(ctx: Ctx, files: readonly string[]): Promise<void> {
  for (const file of files) {
    // Untrimmed: leading indentation and the last newline are part of the file.
    const show = async (stage: number) => {
      const out = await gitRaw(wt(ctx), ['show', `:${stage}:${file}`]);
      if (out.exitCode !== 0) throw new Error(`git show :${stage}:${file} failed: ${out.stderr.trim()}`);
      return out.stdout;
    };
    const [ours, base, theirs] = [
      path.join(ctx.stateDir, 'union-ours'),
      path.join(ctx.stateDir, 'union-base'),
      path.join(ctx.stateDir, 'union-theirs'),
    ];
    await writeOwnFile(ours, await show(2));
    await writeOwnFile(base, await show(1));
    await writeOwnFile(theirs, await show(3));
    const merged = await gitRaw(wt(ctx), ['merge-file', '-p', '--union', ours, base, theirs]);
    await writeOwnFile(path.join(wt(ctx), file), merged.stdout);
    await git(wt(ctx), ['add', '--', file]);
  }
}

/**
 * Merge one item; the integration worktree is back at `prev` unless the outcome is `merged`. `history`: the pass's
 * listing of its items' commits (lib/git-foreign.ts), read from an ancestor of `prev`, every merge since noted.
 */
export async function mergeItem(
  ctx: Ctx,
  item: PlanItem,
  source: MergeSource,
  prev: string,
  itemBase: string,
  progress: Progress,
  history: PassHistory | null = null,
): Promise<MergeOutcome> {
  const branch = source.sha;
  // A squash merge takes the item's change, never its commits: nothing of its history joins the branch.
  const squash = ctx.plan.defaults.merge === 'squash';
  const strays = squash ? [] : await strayCommits(wt(ctx), branch, prev, itemBase, history);
  if (strays.length > 0) {
    const by = takenBy(history, strays);
    const how = by.length
      ? `the merge of ${by.map((i) => `#${i}`).join(', ')} brought them into ${ctx.plan.milestone.integrationBranch} already`
      : "merged in from elsewhere, or another item's merge brought them in already";
    return {
      kind: 'escalate',
      conflict: 'clean',
      files: [],
      note:
        `its branch holds commits that are not its own work on ${itemBase.slice(0, 10)} ` +
        `(${firstOf(strays.map((c) => c.slice(0, 10)))}: ${how}); git would take them as merged whatever their ` +
        'content, so a person decides',
    };
  }
  // The usual merge (clean, --no-ff) is tried first, merged and committed by one git call; the conflict is predicted
  // and classified only when git refused it (after undoing it), so a clean merge costs no `merge-tree`.
  let sha: string | null = null;
  let tried: 'merged' | 'refused' | 'not tried' = 'not tried';
  let statSaysChanged = false;
  if (ctx.plan.defaults.merge !== 'squash') {
    const merged = await gitRaw(wt(ctx), ['merge', '--no-ff', '--no-log', '--stat', '-m', mergeMessage(item), branch], {
      env: { LC_ALL: 'C' },
    });
    tried = merged.exitCode === 0 ? 'merged' : 'refused';
    // A diffstat summary line is printed only when the merge changed the tree.
    statSaysChanged = / \d+ files? changed/.test(merged.stdout);
    if (tried === 'refused') await resetIntegration(ctx, prev);
  }
  const files = tried === 'merged' ? [] : await predictConflicts(wt(ctx), branch);
  const cls = await classifyConflicts(wt(ctx), branch, files);
  let kind: ItemMerge['kind'] = cls.kind === 'heavy' ? 'heavy' : cls.kind;
  let note = '';
  let committed = false;
  progress.output(`#${item.issue}: ${cls.kind}${files.length ? ` (${firstOf(files)})` : ''}`);
  // What a heavy conflict names is kept in state and the follow-up item: cut like every list there (10,000 files in
  // conflict made a state.json and a backlog item of megabytes).
  const listed = (list: readonly string[]) =>
    capList(
      list,
      LIST_CAP,
      `git merge-tree --write-tree --name-only ${ctx.plan.milestone.integrationBranch} ${branch}`,
    );
  // A merge git refused although the prediction said clean: integration back at prev, and a human decides.
  const unpredictedFailure = async (): Promise<MergeOutcome> => {
    await resetIntegration(ctx, prev);
    return {
      kind: 'escalate',
      conflict: 'clean',
      files: listed(files),
      note: 'git merge failed although no conflict was predicted',
    };
  };
  // Refused although no conflict is predicted (files an interrupted git left, now cleaned away): the two-step merge
  // below tries once more, and only its failure is escalated.
  if (tried === 'merged') {
    // The new HEAD from the branch's loose ref file git has just written (git is asked when the file does not say);
    // the tree is compared with the parent's only when git printed no diffstat (an empty merge, or one it hides).
    const head = headFileSha(wt(ctx), ctx.commonDir);
    if (head && head !== prev && statSaysChanged) sha = head;
    else {
      const [now = '', tree, parentTree] = (
        await git(wt(ctx), ['rev-parse', 'HEAD', 'HEAD^{tree}', 'HEAD^1^{tree}'])
      ).split('\n');
      // HEAD still at prev: the branch was in it already and git made no commit; the two-step merge below records it.
      if (now !== prev) {
        sha = now;
        if (tree === parentTree) kind = 'empty';
      }
    }
  }
  switch (cls.kind) {
    case 'heavy':
      return { kind: 'escalate', conflict: 'heavy', files: listed(cls.files), note: `heavy conflict: ${cls.reason}` };
    case 'clean':
      if (sha !== null) break;
      if (!(await startMerge(ctx, branch))) return unpredictedFailure();
      // What the item changes: nothing, and the merge records an empty one.
      if ((await diffNames(wt(ctx), [`${prev}...${branch}`])).length === 0) kind = 'empty';
      break;
    case 'trivial':
    case 'medium': {
      // Whitespace-only differences merge cleanly when whitespace is ignored.
      if (await startMerge(ctx, branch, ['-X', 'ignore-all-space'])) {
        kind = 'trivial';
        note = `whitespace-only conflict in ${cls.files.join(', ')}, merged ignoring whitespace`;
        break;
      }
      await resetIntegration(ctx, prev);
      await startConflictedMerge(ctx, branch, cls.files);
      if (cls.kind === 'trivial') {
        await resolveByUnion(ctx, cls.files);
        note = `both sides only added lines in ${cls.files.join(', ')}: kept both (ours first)`;
        break;
      }
      const resolution = await resolveWithAgent(ctx, item, source, cls.files, prev);
      if (resolution.kind === 'problem') {
        await resetIntegration(ctx, prev);
        return {
          kind: 'escalate',
          conflict: 'medium',
          files: cls.files,
          note: `medium conflict in ${cls.files.join(', ')} not resolved: ${resolution.text}`,
        };
      }
      committed = resolution.kind === 'committed';
      note = `conflict in ${cls.files.join(', ')} resolved by the conflict-resolution agent`;
      break;
    }
  }
  if (sha === null) {
    // The agent may have committed the merge itself: it keeps its content and gets the queue's message.
    const parents = squash ? [prev] : [prev, branch];
    sha = await commitMerge(ctx, item, parents, committed ? ['--amend'] : []);
    if (sha === null) {
      await resetIntegration(ctx, prev);
      return {
        kind: 'escalate',
        conflict: kind,
        files,
        note:
          `the merge commit got other parents than ${ctx.plan.milestone.integrationBranch} and the item ` +
          '(MERGE_HEAD was changed while the merge was open): commits nobody judged would have joined the branch',
      };
    }
  }
  const merge = { kind, sha, files: kind === 'clean' || kind === 'empty' ? [] : files, note };
  // A clean merge of a branch that started from this very integration HEAD needs no gate run: nothing else changed.
  if (kind !== 'clean' || itemBase !== prev) {
    // Filtered by what the merge changed on integration: with a conflict resolved, more than the item's own change.
    const red = ctx.plan.gates.preMerge.length
      ? await preMergeGates(ctx, item, await diffNames(wt(ctx), [prev, sha]), sha)
      : null;
    // Left at HEAD: whether it is the item's doing is asked next, without moving integration (a crash meanwhile
    // finds the merge there, not lost with a conflict agent's resolution).
    if (red) return { kind: 'red', conflict: kind, gate: red, merge };
  }
  return { kind: 'merged', merge };
}

/** Output of a red gate, for the fix agent's prompt and the escalation. */
export function redGateText(red: GateResult): string {
  const why = explainGateFailure(red);
  return `pre-merge gate \`${red.name}\` failed (exit ${red.exitCode})${why ? `: ${why.split('\n')[0]}` : ''}\n${gateOutputTail(red, 40)}`;
}
