/**
 * gates: pre-merge then post-merge gates on integration HEAD; red → fix agent, at most max-fix-attempts, then exit 1.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPORT_FORMAT } from '../agents/prompt.ts';
import { resumeSession, runAgentSession } from '../executors/agent-session.ts';
import type { Ctx } from '../engine/context.ts';
import { defaultSettingsFor } from '../items/agent-settings.ts';
import { explainGateFailure, gateApplies, gateOutputTail } from '../gating/gate-run.ts';
import { runGatesOnHead } from '../gating/gates-on-head.ts';
import { NeedsAttentionError, StepFailedError } from '../lib/errors.ts';
import { mergesNotIn } from '../merging/merge-pass.ts';
import { updateItem } from '../lib/state-items.ts';
import { git, gitRaw, isAncestor } from '../lib/git.ts';
import { diffNames } from '../lib/diff-names.ts';
import { commitsNotBuiltOn } from '../lib/git-foreign.ts';
import { surelyNoMergeHead } from '../lib/git-files.ts';
import { runnerFilesOf, touchedRunnerFiles } from '../guards/runner-files.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import type { Bisection, GateResult, State } from '../lib/state-types.ts';
import { gitTextHead } from '../lib/git-lines.ts';
import { listItems } from '../lib/plan/types.ts';
import { findCulprit, findPartner, removeScratch, type BisectOutcome, type PhasedGate } from '../gating/bisect-run.ts';
import { ejectItems, finishEjection } from '../gating/eject.ts';
import { redBeforeTheMilestone } from '../gating/red-base.ts';
import { changeIntegration, integrationHead, integrationTip } from '../guards/refs-guard.ts';
import { DONE, todo, type Progress, type Step } from '../engine/step.ts';
import { commandLine } from '../lib/command-words.ts';
import { firstOf, oneLine } from '../lib/bounded-text.ts';

/** The gates of the plan that apply to the change since the milestone's base. */
async function applicableGates(ctx: Ctx) {
  // No gates in the plan: nothing to ask git.
  if (ctx.plan.gates.preMerge.length + ctx.plan.gates.postMerge.length === 0) return [];
  const base = ctx.store.current().branch?.base ?? 'HEAD';
  const changed = await diffNames(ctx.integrationWorktree, [base, 'HEAD']);
  return [
    ...ctx.plan.gates.preMerge.map((gate) => ({ gate, phase: 'pre-merge' as const })),
    ...ctx.plan.gates.postMerge.map((gate) => ({ gate, phase: 'post-merge' as const })),
  ].filter(({ gate }) => gateApplies(gate, changed));
}

function fixPrompt(ctx: Ctx, red: GateResult, attempt: number): string {
  return [
    `You are fixing the integration branch ${ctx.plan.milestone.integrationBranch} of milestone ${ctx.plan.milestone.id} (${ctx.plan.milestone.title}).`,
    `Your worktree is ${ctx.integrationWorktree}. Work only there; do not switch branches, do not push.`,
    `The quality gate \`${red.name}\` (${red.phase}) fails with exit code ${red.exitCode}. Its output ends with:\n\n\`\`\`\n${gateOutputTail(red)}\n\`\`\``,
    `Fix the code (not the gate) so that it passes, run the gate yourself, and commit the fix with git. This is fix attempt ${attempt}.`,
    REPORT_FORMAT,
  ].join('\n\n');
}

/** A culprit found by bisection, and what the narrow fix prompt shows of it. */
interface Culprit {
  readonly outcome: Extract<BisectOutcome, { kind: 'culprit' }>;
  readonly gate: GateResult;
}

/** The most items bisections may eject from one milestone: past half of them, the milestone is red, not an item. */
function ejectionLimit(ctx: Ctx): number {
  return Math.floor(listItems(ctx.plan).length / 2);
}

/** The tip the gates were last green on: a recorded green sha still under HEAD, else the milestone's base. */
async function lastGreenTip(ctx: Ctx, head: string): Promise<string | null> {
  const st = ctx.store.current();
  const recorded = st.gates?.sha;
  if (recorded && recorded !== head && (await isAncestor(ctx.repo, recorded, head))) return recorded;
  return st.branch?.base ?? null;
}

/** The prompt of a fix agent that knows the culprit: its diff, the red gate's log, the last green tip. */
async function narrowFixPrompt(ctx: Ctx, culprit: Culprit, attempt: number): Promise<string> {
  const { bisection, index } = culprit.outcome;
  const change = bisection.changes[index - 1] as Bisection['changes'][number];
  const before = index === 1 ? bisection.base : (bisection.changes[index - 2]?.sha as string);
  const args = ['diff', '--no-ext-diff', '--no-textconv', before, change.sha];
  const diff = await gitTextHead(ctx.repo, args, 60_000, `full diff: git ${args.join(' ')}`);
  const title = listItems(ctx.plan).find((i) => i.issue === change.issue)?.title ?? '';
  const red = culprit.gate;
  return [
    `You are fixing the integration branch ${ctx.plan.milestone.integrationBranch} of milestone ${ctx.plan.milestone.id} (${ctx.plan.milestone.title}).`,
    `Your worktree is ${ctx.integrationWorktree}. Work only there; do not switch branches, do not push.`,
    `The quality gate \`${red.name}\` (${red.phase}) fails. It was green on ${bisection.base.slice(0, 12)}; a bisection found that item #${change.issue} (${title}) turns it red: this is the change it merged (\`git diff ${before.slice(0, 12)} ${change.sha.slice(0, 12)}\`):\n\n\`\`\`diff\n${diff}\n\`\`\``,
    `The gate's output ends with:\n\n\`\`\`\n${gateOutputTail(culprit.outcome.probe.log ? { ...red, log: culprit.outcome.probe.log } : red)}\n\`\`\``,
    `Fix that change (not the gate) so that the gate passes, keeping what the item was for; run the gate yourself, and commit the fix with git. This is fix attempt ${attempt}.`,
    REPORT_FORMAT,
  ].join('\n\n');
}

/** Run the gates and, when one is red on a sha not retried yet, run it once more before blaming anything. */
async function runGatesOnce(
  ctx: Ctx,
  progress: Progress,
  gatesToRun: readonly PhasedGate[],
  sha: string,
  logDir: string,
  retry: boolean,
): Promise<{ readonly green: boolean; readonly results: readonly GateResult[]; readonly flaky: readonly string[] }> {
  const report = (r: GateResult) => {
    ctx.events.emit({ type: 'gate', name: r.name, phase: r.phase, exitCode: r.exitCode, sha });
    progress.output(`${r.phase} ${r.name}: exit ${r.exitCode}`);
  };
  const first = await runGatesOnHead(ctx, gatesToRun, logDir, report);
  if (first.green || !retry) return { ...first, flaky: [] };
  const red = first.results[first.results.length - 1] as GateResult;
  const at = first.results.length - 1;
  progress.output(`gate ${red.name} is red: running it again on the same sha before blaming anything`);
  const again = await runGatesOnHead(ctx, gatesToRun.slice(at, at + 1), `${logDir}-retry`, report);
  if (!again.green) return { green: false, results: [...first.results.slice(0, at), ...again.results], flaky: [] };
  ctx.events.emit({ type: 'notice', message: `gate ${red.name} failed once and passed on the same sha: flaky` });
  const rest = await runGatesOnHead(ctx, gatesToRun.slice(at + 1), `${logDir}-rest`, report);
  return {
    green: rest.green,
    results: [...first.results.slice(0, at), ...again.results, ...rest.results],
    flaky: [red.name],
  };
}

/**
 * Run the gates on integration HEAD until green (docs/bisection.md): a red gate runs once more on the same sha (green
 * then: flaky); still red, a bisection finds the item that turns it red and fix agents get its diff; when they fail,
 * it is ejected and the rest goes on. Without a culprit, fix agents get the whole milestone, as many as the plan says.
 */
export async function makeGatesGreen(ctx: Ctx, progress: Progress): Promise<void> {
  const max = ctx.plan.defaults.maxFixAttempts;
  // A fix agent a runner that died left at work: its result is used, as this run's first fix attempt. (One that
  // rewound the branch meanwhile was already stopped on by the refs guard, before any step: exit 3, with the
  // command that puts the branch back.)
  const resumed = await resumeSession(ctx, 'fix', 0, defaultSettingsFor(ctx).timeoutMs);
  if (resumed) await commitFixLeftovers(ctx, 'Fix gates (re-attached fix agent)');
  // The attempt that re-attached agent made, or one a crash cut short before it was settled.
  await settleFixRange(ctx);
  const flaky = new Set<string>();
  let culprit: Culprit | null = null;
  let canBisect = true;
  let retryNext = true;
  try {
    for (let attempt = resumed ? 1 : 0; ; attempt++) {
      const sha = await integrationHead(ctx);
      await assertMergesKept(ctx, sha);
      const logDir = path.join(ctx.stateDir, 'gates', `${sha.slice(0, 12)}-${attempt}`);
      const gatesToRun = await applicableGates(ctx);
      // Retried before blaming: on the first run, and on a tip rebuilt by an ejection; not after each fix attempt.
      const run = await runGatesOnce(ctx, progress, gatesToRun, sha, logDir, retryNext);
      retryNext = false;
      for (const name of run.flaky) flaky.add(name);
      if (run.green) {
        // Fix agents worked (this run or one a crash ended): the merged items they undid whole are not landed work.
        const fixing = ctx.store.current().fixing;
        if (fixing) await escalateUndoneItems(ctx, sha, fixing);
        await ctx.store.update((s) => {
          s.fixing = null;
          s.gates = {
            sha,
            at: new Date().toISOString(),
            results: [...run.results],
            fixAttempts: attempt,
            flaky: [...flaky],
          };
          s.bisection = null;
        });
        return;
      }
      const red = run.results[run.results.length - 1] as GateResult;
      if (culprit === null && canBisect) {
        culprit = await bisect(ctx, progress, gatesToRun, red, sha);
        canBisect = culprit !== null;
        if (culprit) attempt = 0;
      }
      if (attempt >= max && culprit) {
        await ejectCulprit(ctx, progress, gatesToRun, culprit);
        culprit = null;
        retryNext = true;
        attempt = -1;
        continue;
      }
      if (attempt >= max) throw stillRed(ctx, red, max);
      progress.output(`gate ${red.name} is red: fix agent, attempt ${attempt + 1} of ${max}`);
      // Before the agent can commit: the range it works in, and for which gate (kept across a crash).
      await ctx.store.update(
        (s) => {
          const gates = s.fixing?.gates ?? [];
          s.fixing = {
            gates: gates.includes(red.name) ? gates : [...gates, red.name],
            ranges: [...(s.fixing?.ranges ?? []), { from: sha, to: null }],
          };
        },
        { durable: true },
      );
      const fix = await runAgentSession(ctx, {
        role: 'fix',
        issue: 0,
        title: `fix ${red.name}`,
        wave: 0,
        worktree: ctx.integrationWorktree,
        branch: ctx.plan.milestone.integrationBranch,
        prompt: culprit ? await narrowFixPrompt(ctx, culprit, attempt + 1) : fixPrompt(ctx, red, attempt + 1),
        settings: defaultSettingsFor(ctx),
        dir: path.join(ctx.stateDir, 'gates'),
        name: `fix-${sha.slice(0, 12)}-${attempt + 1}`,
        key: sha,
      });
      // Its failure (no result, stopped, a FAILED report) is what the red gate that follows does not say.
      if (!fix.outcome.ok)
        progress.output(`fix agent, attempt ${attempt + 1}: ${oneLine(fix.outcome.failure ?? 'failed')}`);
      await commitFixLeftovers(ctx, `Fix gate ${red.name} (fix agent, attempt ${attempt + 1})`);
      await keepFixOnHistory(ctx, sha, attempt + 1);
      await settleFixRange(ctx);
    }
  } finally {
    await removeScratch(ctx);
  }
}

/**
 * The merged items whose whole change on integration `head` no longer holds because fix agents undid it: every file
 * their merge changed is at `head` as it was before that merge, and a fix attempt changed some of them (in its own
 * range, `fixing.ranges`: a later item, or a human, that put a file back is no fix agent's doing). Their merge
 * is still on the branch, but their work would not land: each is escalated (failure code `undone-by-fix`, its merge
 * record's sha null), so it is not marked done nor its issue closed, its branch is kept, and the run ends needing
 * attention; items that depend on it are flagged. An item landed by an earlier run stays landed, with a notice: main
 * gets the fix agents' revert of it. Up to three git calls per merged item, only after fix agents worked.
 */
async function escalateUndoneItems(ctx: Ctx, head: string, fixing: NonNullable<State['fixing']>): Promise<void> {
  const dir = ctx.integrationWorktree;
  const landedAt = ctx.store.current().land?.integration ?? null;
  // What the fix attempts changed, each in its own range: nothing anyone else committed meanwhile.
  const touched = new Set<string>();
  for (const r of fixing.ranges)
    if (r.to && r.to !== r.from) for (const f of await diffNames(dir, [r.from, r.to])) touched.add(f);
  if (touched.size === 0) return;
  const same = async (from: string, files: readonly string[]) =>
    (await gitRaw(dir, ['diff', '--quiet', '--no-ext-diff', from, head, '--', ...files.map(literal)])).exitCode === 0;
  const undone: Array<{ issue: number; files: string[] }> = [];
  for (const it of Object.values(ctx.store.current().items)) {
    const merge = it.merge?.sha;
    if (!merge || it.merge?.kind === 'empty') continue;
    const files = await diffNames(dir, [`${merge}^1`, merge]);
    if (files.length === 0 || !files.some((f) => touched.has(f)) || !(await same(`${merge}^1`, files))) continue;
    if (landedAt && (await isAncestor(dir, merge, landedAt))) {
      ctx.events.emit({
        type: 'notice',
        message: `#${it.issue}: a fix agent undid its change (${firstOf(files)}), which an earlier run landed: main gets that revert`,
      });
      continue;
    }
    undone.push({ issue: it.issue, files });
  }
  if (undone.length === 0) return;
  const which = fixing.gates.length ? ` gate ${fixing.gates.map((g) => `"${g}"`).join(', ')}` : ' the gates';
  const why = (u: { files: string[] }) =>
    `a fix agent undid its change (${firstOf(u.files)}) to make${which} green; its merge stays on the integration ` +
    `branch, undone, and the item is not landed`;
  const issues = new Set(undone.map((u) => u.issue));
  const dependants = listItems(ctx.plan).filter(
    (item) => !issues.has(item.issue) && item.dependsOn.some((d) => issues.has(d)),
  );
  await ctx.store.update(
    (s) => {
      for (const u of undone)
        updateItem(s, u.issue, (it) => ({
          status: 'escalated',
          failureCode: 'undone-by-fix',
          failure: why(u),
          merge: it.merge ? { ...it.merge, sha: null, note: why(u) } : null,
          ...(it.result ? { result: { ...it.result, flags: [...it.result.flags, UNDONE_FLAG] } } : {}),
        }));
      for (const d of dependants)
        updateItem(s, d.issue, (it) =>
          it.result
            ? {
                result: {
                  ...it.result,
                  flags: [
                    ...it.result.flags,
                    `depends on ${d.dependsOn
                      .filter((i) => issues.has(i))
                      .map((i) => `#${i}`)
                      .join(', ')}, whose change a fix agent undid`,
                  ],
                },
              }
            : {},
        );
    },
    { durable: true },
  );
  for (const u of undone) {
    ctx.events.emit({
      type: 'item',
      issue: u.issue,
      status: 'escalated',
      failureCode: 'undone-by-fix',
      detail: why(u),
    });
    // Said on stderr too: `step gates` prints notices, not item events.
    ctx.events.emit({ type: 'notice', message: `#${u.issue} escalated: ${why(u)}` });
  }
  for (const d of dependants)
    ctx.events.emit({
      type: 'notice',
      message: `#${d.issue} landed, but it depends on ${d.dependsOn
        .filter((i) => issues.has(i))
        .map((i) => `#${i}`)
        .join(', ')}, whose change a fix agent undid`,
    });
}

/** The flag on the result of an item a fix agent undid (report.md shows it with the item). */
const UNDONE_FLAG = 'its change was undone by a fix agent before landing';

/** A path as a pathspec that matches it alone (no glob, whatever its characters). */
const literal = (p: string) => `:(literal)${p}`;

/**
 * A fix agent builds on the sha it was given. One that reset or rewrote the integration branch (`git reset --hard
 * main`) would drop merged items, which would still be reported as landed: the branch is put back to that sha, and
 * the attempt's work is not used (a notice says so).
 */
async function keepFixOnHistory(ctx: Ctx, sha: string, attempt: number): Promise<void> {
  const head = await integrationHead(ctx);
  if (head === sha || (await isAncestor(ctx.integrationWorktree, sha, head))) return;
  await git(ctx.integrationWorktree, ['reset', '-q', '--hard', sha]);
  ctx.events.emit({
    type: 'notice',
    message:
      `fix agent, attempt ${attempt}: it moved the integration branch to ${head.slice(0, 10)}, which does not contain ` +
      `${sha.slice(0, 10)} (a reset or a rewrite); put back to ${sha.slice(0, 10)}, and its work is not used`,
  });
}

/**
 * What a runner that died left half done in the gates step, finished before any other step, as one operation of the
 * runner's (so the commits it makes are its own recorded moves); the command settled the sessions first, so no fix
 * agent still works. A merge pass would otherwise build on it:
 * - an ejection recorded but not finished (the branch not yet moved, or its follow-up not yet written): a retry would
 *   find the ejected merge again, "found merged";
 * - a fix attempt left open: what its agent left uncommitted is committed and its range settled (an item retried
 *   before would be blamed for the fix's files, and the range take in the runner's own merges, which the
 *   foreign-commit check then put back). The gates step uses the agent's result as before.
 */
export async function finishLeftGatesWork(ctx: Ctx): Promise<void> {
  const st = ctx.store.current();
  const ejection = st.ejections?.at(-1)?.followUp === null;
  const fixing = st.fixing?.ranges.some((r) => r.to === null) ?? false;
  if (!(ejection || fixing) || !existsSync(ctx.integrationWorktree)) return;
  await changeIntegration(ctx, 'gates', async () => {
    if (ejection) await finishEjection(ctx);
    if (fixing) {
      await commitFixLeftovers(ctx, 'Fix gates (re-attached fix agent)');
      await settleFixRange(ctx);
    }
  });
}

/**
 * Close the fix attempt left open (its `to` null): the tip it left is recorded, and what it changed in the plan or the
 * backlog's item files is put back.
 */
async function settleFixRange(ctx: Ctx): Promise<void> {
  const open = ctx.store.current().fixing?.ranges.find((r) => r.to === null);
  if (!open) return;
  await forgetMergeHead(ctx);
  let to = await integrationHead(ctx);
  const foreign = await commitsNotBuiltOn(ctx.integrationWorktree, open.from, to);
  if (foreign.length > 0) {
    // A failed item's commits merged in (its retry would then merge without them), or main's (undone at landing).
    await git(ctx.integrationWorktree, ['reset', '-q', '--hard', open.from]);
    to = open.from;
    ctx.events.emit({
      type: 'notice',
      message:
        `a fix agent brought commits from elsewhere into the integration branch (${firstOf(foreign.map((c) => c.slice(0, 10)))}, ` +
        `by a merge); put back to ${open.from.slice(0, 10)}, and its work is not used`,
    });
  }
  await restoreRunnerFiles(ctx, open.from, to);
  await ctx.store.update(
    (s) => {
      if (s.fixing) s.fixing = { ...s.fixing, ranges: s.fixing.ranges.map((r) => (r.to === null ? { ...r, to } : r)) };
    },
    { durable: true },
  );
}

/**
 * The plan and the backlog's item files say what landed: a fix agent that changed them (marked an item done, say)
 * would make main say so of one that did not. What one attempt changed there (`from`, the tip it was given, to `to`,
 * HEAD now) is put back, in a commit of the runner's; nothing anyone else committed is touched.
 */
async function restoreRunnerFiles(ctx: Ctx, from: string, to: string): Promise<void> {
  const dir = ctx.integrationWorktree;
  if (from === to) return;
  const kept = touchedRunnerFiles(await diffNames(dir, [from, to]), runnerFilesOf(ctx.plan), 0);
  const files = [...kept.others, ...(kept.own ? [kept.own] : [])];
  if (files.length === 0) return;
  const there = await gitRaw(dir, ['ls-tree', '-z', '--name-only', from, '--', ...files.map(literal)]);
  const before = new Set(there.stdout.split('\0').filter(Boolean));
  const back = files.filter((f) => before.has(f));
  const added = files.filter((f) => !before.has(f));
  if (back.length) await git(dir, ['checkout', from, '--', ...back.map(literal)]);
  if (added.length) await git(dir, ['rm', '-q', '-f', '--', ...added.map(literal)]);
  await git(dir, ['commit', '-q', '-m', "Restore the milestone's plan and backlog files a fix agent changed"]);
  ctx.events.emit({
    type: 'notice',
    message: `a fix agent changed the milestone's plan or backlog files, which the runner keeps (${firstOf(files)}): put back`,
  });
}

/**
 * Stop (exit 3) before gating a tip that lacks merges state records (rewound or rewritten by someone else): green on
 * it would land without them while the report calls them merged.
 */
async function assertMergesKept(ctx: Ctx, head: string): Promise<void> {
  const missing = await mergesNotIn(ctx, head);
  if (missing.length === 0) return;
  throw new NeedsAttentionError(
    `the integration branch at ${head.slice(0, 10)} no longer holds the merges of ` +
      `${missing.map((i) => `#${i}`).join(', ')} (rewound or rewritten, not by the runner); nothing was gated or ` +
      `landed; look with: git -C ${ctx.integrationWorktree} reflog -n 20; put the branch back where it held them ` +
      '(git reset --hard <sha> there), then run again',
  );
}

/**
 * Whether a gate red on the tip it last passed on (`base`) is excused there: one for some files only may fail on a
 * base that lacks them (`cd pkg` before any item made pkg/), which says nothing about the milestone; not when it
 * passed on that very tip (the recorded green gates): it did run there, and red now is red there.
 */
function excusedOnBase(ctx: Ctx, redGates: readonly PhasedGate[], red: GateResult, base: string): boolean {
  const recorded = ctx.store.current().gates;
  const passedThere =
    recorded?.sha === base &&
    recorded.results.some((r) => r.name === red.name && r.phase === red.phase && r.exitCode === 0);
  return !passedThere && redGates.some((g) => g.gate.files.length > 0);
}

/** Bisect the red gate on `head` (null when nothing can be blamed: the reason is shown, the fix agents get it all). */
async function bisect(
  ctx: Ctx,
  progress: Progress,
  gatesToRun: readonly PhasedGate[],
  red: GateResult,
  head: string,
): Promise<Culprit | null> {
  const ejected = (ctx.store.current().ejections ?? []).reduce((n, e) => n + e.issues.length, 0);
  if (ejected >= ejectionLimit(ctx)) {
    progress.output(`no bisection: ${ejected} item(s) already ejected, the most one milestone may lose`);
    return null;
  }
  const base = await lastGreenTip(ctx, head);
  if (!base) return null;
  const redGates = gatesToRun.filter((g) => g.gate.name === red.name && g.phase === red.phase);
  progress.output(`gate ${red.name} is red twice: bisecting the changes since ${base.slice(0, 10)}`);
  const outcome = await findCulprit(ctx, redGates, base, head, progress);
  if (outcome.kind !== 'culprit') {
    await ctx.store.update((s) => {
      s.bisection = null;
    });
    if (outcome.kind === 'red-base' && !excusedOnBase(ctx, redGates, red, base))
      throw redBeforeTheMilestone(ctx, red, base, outcome.log);
    const reason =
      outcome.kind === 'unexplained'
        ? outcome.reason
        : `gate ${red.name} is red on ${base.slice(0, 10)} too, where the files it is for may not be`;
    ctx.events.emit({ type: 'notice', message: `bisect: no item to blame: ${reason}` });
    return null;
  }
  const issue = outcome.bisection.changes[outcome.index - 1]?.issue;
  ctx.events.emit({ type: 'notice', message: `bisect: #${issue} turns gate ${red.name} red` });
  return { outcome, gate: red };
}

/** The fix agents could not make the culprit green: find whether it breaks the gate alone, then eject. */
async function ejectCulprit(
  ctx: Ctx,
  progress: Progress,
  gatesToRun: readonly PhasedGate[],
  culprit: Culprit,
): Promise<void> {
  const red = culprit.gate;
  const redGates = gatesToRun.filter((g) => g.gate.name === red.name && g.phase === red.phase);
  const { bisection, index } = culprit.outcome;
  const partnerIndex = await findPartner(ctx, redGates, index, progress);
  const partner = partnerIndex !== null && bisection.changes[partnerIndex - 1]?.issue != null ? partnerIndex : null;
  const current = ctx.store.current().bisection ?? bisection;
  const ejection = await ejectItems(ctx, {
    bisection: current,
    culprit: index,
    partner,
    gate: red.name,
    log: culprit.outcome.probe.log ?? red.log,
  });
  progress.output(
    `ejected ${ejection.issues.map((i) => `#${i}`).join(' and ')} (gate ${red.name})` +
      `${ejection.dropped.length ? `, and ${ejection.dropped.map((i) => `#${i}`).join(' ')} with them` : ''}; the rest goes on`,
  );
}

/** Gates still red after the fix attempts, and nothing left to eject. */
function stillRed(ctx: Ctx, red: GateResult, max: number): StepFailedError {
  const why = explainGateFailure(red);
  return new StepFailedError(
    `gate "${red.name}" (${red.phase}) still fails on ${ctx.plan.milestone.integrationBranch} after ${max} fix attempt(s) (exit ${red.exitCode}); log: ${red.log}` +
      `${
        why
          ? `\n${why
              .split('\n')
              .map((l) => `  | ${l}`)
              .join('\n')}`
          : ''
      }\nfix it in ${ctx.integrationWorktree} and commit, then run \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id, '--adopt'])}\` (or \`${commandLine(ctx.entry, 'run', [ctx.plan.milestone.id])}\` to give fix agents another try)`,
  );
}

/**
 * A MERGE_HEAD a fix agent left would make the runner's next commit there a merge of whatever it names (a failed
 * item's branch, say): forgotten, the index and files kept, so what it changed is committed alone.
 */
async function forgetMergeHead(ctx: Ctx): Promise<void> {
  if (!surelyNoMergeHead(ctx.integrationWorktree)) await git(ctx.integrationWorktree, ['merge', '--quit']);
}

/** What the fix agent left uncommitted is its fix too: the gates judge it next. */
async function commitFixLeftovers(ctx: Ctx, message: string): Promise<void> {
  await forgetMergeHead(ctx);
  if ((await dirtyPaths(ctx.integrationWorktree)).length === 0) return;
  await git(ctx.integrationWorktree, ['add', '-A']);
  await git(ctx.integrationWorktree, ['commit', '-q', '-m', message]);
}

/** Whether the gates recorded green on the integration branch's current HEAD (or the milestone is already landed). */
export async function gatesGreenOnHead(ctx: Ctx): Promise<boolean> {
  const st = ctx.store.current();
  // The green sha (or, before any gate ran, the recorded tip) confirmed from the branch's ref file when it holds it;
  // anything else is asked of git.
  const head = await integrationTip(ctx, st.gates?.sha ?? st.refs?.integration ?? null);
  if (!head) return st.complete !== null || (st.land !== null && st.gates !== null);
  return st.gates?.sha === head;
}

/** gates step. */
export const gates: Step = {
  id: 'gates',
  async check(ctx) {
    if (await gatesGreenOnHead(ctx)) return DONE;
    // After land's backlog commit the head moved by status changes only; land itself checks that.
    const st = ctx.store.current();
    const head = await integrationTip(ctx, st.refs?.integration ?? null);
    if (st.land && head && (await isAncestor(ctx.repo, head, 'refs/heads/main'))) return DONE;
    return todo(st.gates ? 'integration moved since the gates passed' : 'gates not run');
  },
  async run(ctx, _scope, progress) {
    // An ejection a killed runner recorded but did not finish moves the branch first, before the refs guard looks.
    await finishEjection(ctx);
    // Green is recorded for the tip the gates passed on: the tip the operation left.
    await changeIntegration(
      ctx,
      'gates',
      () => makeGatesGreen(ctx, progress),
      () => ctx.store.current().gates?.sha ?? null,
    );
  },
};
