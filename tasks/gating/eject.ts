/**
 * Ejecting the items a bisection blamed (docs/bisection.md): the integration branch is rebuilt from the tip before
 * them, every later change replayed in order without them (and without what depends on them), their branches kept; a
 * follow-up backlog item names the gate and its log. The state records the ejection before the branch moves, so a
 * runner killed in between finishes the move on the next run (`finishEjection`).
 */
import type { Ctx } from '../engine/context.ts';
import { recordIntegration } from '../guards/refs-guard.ts';
import { firstOf, oneLine } from '../lib/bounded-text.ts';
import { git, gitOk, isAncestor, revParse } from '../lib/git.ts';
import { listItems } from '../lib/plan/types.ts';
import { updateItem } from '../lib/state-items.ts';
import type { Bisection, Ejection } from '../lib/state-types.ts';
import { createFollowUp } from '../merging/follow-ups.ts';
import { applyChange, scratchAt } from './bisect-run.ts';
import { explainGateLog, readGateLog } from './gate-run.ts';

/** What to eject: the culprit's change (1-based index into the bisection's changes) and its partner's, if any. */
export interface EjectRequest {
  readonly bisection: Bisection;
  readonly culprit: number;
  readonly partner: number | null;
  readonly gate: string;
  readonly log: string | null;
}

/** Items that depend on any of `issues`, directly or through others (plan `depends-on`). */
export function dependantsOf(ctx: Ctx, issues: readonly number[]): number[] {
  const out = new Set<number>();
  const blocked = new Set(issues);
  for (let grew = true; grew;) {
    grew = false;
    for (const item of listItems(ctx.plan)) {
      if (blocked.has(item.issue)) continue;
      if (item.dependsOn.some((d) => blocked.has(d))) {
        blocked.add(item.issue);
        out.add(item.issue);
        grew = true;
      }
    }
  }
  return [...out].sort((a, b) => a - b);
}

/** Make a commit with `tree` on `parents`, carrying `like`'s message and author. */
async function commitLike(cwd: string, tree: string, parents: readonly string[], like: string): Promise<string> {
  const [name, email, date] = (await git(cwd, ['log', '-1', '--format=%an%x00%ae%x00%aI', like])).split('\0');
  const message = await git(cwd, ['log', '-1', '--format=%B', like]);
  return git(cwd, ['commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-F', '-'], {
    input: `${message}\n`,
    env: { GIT_AUTHOR_NAME: name ?? '', GIT_AUTHOR_EMAIL: email ?? '', GIT_AUTHOR_DATE: date ?? '' },
  });
}

/**
 * Replay `changes` on `from` without the `skip` items; returns the new tip, each replayed item's new merge sha, and
 * the items whose change did not apply without the skipped ones. A merge stays a merge of the same item tip unless
 * that tip holds an ejected commit (it was made on top of it): then it becomes a plain commit of the same change, so
 * the ejected commits are not reachable from the new tip.
 */
async function replay(
  ctx: Ctx,
  from: string,
  changes: Bisection['changes'],
  skip: ReadonlySet<number>,
  ejectedTips: readonly string[],
): Promise<{
  readonly tip: string;
  readonly remap: ReadonlyMap<number, string>;
  readonly failed: readonly number[];
  /** Changes of no item (main brought in, a fix) that did not apply without the ejected ones. */
  readonly skipped: readonly string[];
}> {
  // Made again when gone: a bisection taken from state (recorded by a runner that died) probed nothing this run, and
  // a merge pass since removed the scratch worktree.
  const scratch = await scratchAt(ctx, from);
  let tip = from;
  const remap = new Map<number, string>();
  const failed: number[] = [];
  const skipped: string[] = [];
  for (const change of changes) {
    if (change.issue !== null && skip.has(change.issue)) continue;
    if (!(await applyChange(scratch, change.sha))) {
      if (change.issue !== null) failed.push(change.issue);
      else skipped.push(change.sha);
      continue;
    }
    const tree = await git(scratch, ['write-tree']);
    const parents = (await git(scratch, ['rev-list', '--parents', '-n', '1', change.sha])).split(' ').slice(1);
    const second = parents[1];
    let keepMerge = second !== undefined;
    for (const ejected of ejectedTips) if (second && (await isAncestor(scratch, ejected, second))) keepMerge = false;
    tip = await commitLike(scratch, tree, keepMerge && second ? [tip, second] : [tip], change.sha);
    await git(scratch, ['reset', '-q', '--hard', tip]);
    if (change.issue !== null) remap.set(change.issue, tip);
  }
  return { tip, remap, failed, skipped };
}

/** Eject the blamed items: rebuild integration without them, record it, write the follow-up. */
export async function ejectItems(ctx: Ctx, req: EjectRequest): Promise<Ejection> {
  const { bisection } = req;
  const culprits = [req.culprit, ...(req.partner !== null ? [req.partner] : [])]
    .map((i) => bisection.changes[i - 1]?.issue)
    .filter((i): i is number => typeof i === 'number')
    .sort((a, b) => a - b);
  const cut = Math.min(req.culprit, req.partner ?? req.culprit);
  const cutTip = cut === 1 ? bisection.base : (bisection.changes[cut - 2]?.sha as string);
  const dependants = dependantsOf(ctx, culprits);
  const skip = new Set([...culprits, ...dependants]);
  // The item tips merged by the ejected changes: what later items built on them carry.
  const ejectedTips: string[] = [];
  for (const i of [req.culprit, req.partner]) {
    if (i === null) continue;
    const sha = bisection.changes[i - 1]?.sha as string;
    const parents = (await git(ctx.repo, ['rev-list', '--parents', '-n', '1', sha])).split(' ').slice(1);
    ejectedTips.push(parents[1] ?? sha);
  }
  const from = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
  const rebuilt = await replay(ctx, cutTip, bisection.changes.slice(cut - 1), skip, ejectedTips);
  const dropped = [...new Set([...dependants, ...rebuilt.failed])].sort((a, b) => a - b);
  const ejection: Ejection = {
    issues: culprits,
    dropped,
    gate: req.gate,
    log: req.log,
    from,
    to: rebuilt.tip,
    probes: bisection.probes,
    followUp: null,
    at: new Date().toISOString(),
  };
  const names = culprits.map((i) => `#${i}`).join(' and ');
  const why =
    culprits.length > 1
      ? `together they turn gate "${req.gate}" red (each is green alone); ejected from the integration branch`
      : `turns gate "${req.gate}" red (found by bisection; the fix agents did not make it green); ejected from the integration branch`;
  await ctx.store.update(
    (s) => {
      for (const issue of culprits) {
        updateItem(s, issue, (it) => ({
          status: 'ejected',
          failureCode: 'gate-culprit',
          failure: `${why}${req.log ? `; log: ${req.log}` : ''}`,
          merge: it.merge ? { ...it.merge, sha: null, note: `ejected: ${why}` } : null,
        }));
      }
      for (const issue of dropped) {
        const reason = dependants.includes(issue)
          ? `depends on ${names}, which was ejected`
          : `its change does not apply without ${names}, which was ejected`;
        updateItem(s, issue, {
          status: 'skipped',
          failureCode: 'dependency-failed',
          skipReason: reason,
          merge: null,
          finishSeq: null,
        });
      }
      for (const [issue, sha] of rebuilt.remap)
        updateItem(s, issue, (it) => ({ merge: it.merge ? { ...it.merge, sha } : null }));
      s.ejections = [...(s.ejections ?? []), structuredClone(ejection) as Ejection] as typeof s.ejections;
      s.bisection = null;
      s.gates = null;
      // The fix agents' commits are not on the rebuilt branch: later ones start afresh from it.
      s.fixing = null;
    },
    { durable: true },
  );
  for (const issue of culprits)
    ctx.events.emit({ type: 'item', issue, status: 'ejected', failureCode: 'gate-culprit', detail: why });
  for (const issue of dropped)
    ctx.events.emit({ type: 'item', issue, status: 'skipped', failureCode: 'dependency-failed' });
  if (rebuilt.skipped.length > 0)
    ctx.events.emit({
      type: 'notice',
      message:
        `ejecting ${names}: ${firstOf(rebuilt.skipped.map((s) => s.slice(0, 10)))} (no item's merge: main brought ` +
        `in, or a fix) did not apply without it and was left out; main is brought in again before landing`,
    });
  await moveIntegration(ctx, ejection);
  const followUp = await writeFollowUp(ctx, ejection);
  await ctx.store.update(
    (s) => {
      const last = s.ejections?.at(-1);
      if (last) last.followUp = followUp;
      for (const issue of culprits)
        updateItem(s, issue, (it) => ({ merge: it.merge ? { ...it.merge, followUp } : null }));
    },
    { durable: true },
  );
  return { ...ejection, followUp };
}

/** Move integration (and its worktree) from the ejection's `from` to its `to`, and record it as the runner's tip. */
async function moveIntegration(ctx: Ctx, ejection: Ejection): Promise<void> {
  const head = await git(ctx.integrationWorktree, ['rev-parse', 'HEAD']);
  if (head === ejection.from) await git(ctx.integrationWorktree, ['reset', '-q', '--hard', ejection.to]);
  await recordIntegration(ctx);
}

/**
 * A runner killed between recording an ejection and moving the branch: finish the move (before the refs guard sees a
 * branch that is not where state says). Nothing to do otherwise.
 */
export async function finishEjection(ctx: Ctx): Promise<void> {
  const last = ctx.store.current().ejections?.at(-1);
  if (!last) return;
  const tip = await revParse(ctx.repo, `refs/heads/${ctx.plan.milestone.integrationBranch}`);
  const recorded = ctx.store.current().refs?.integration ?? null;
  if (tip === last.from && (await gitOk(ctx.repo, ['cat-file', '-e', `${last.to}^{commit}`]))) {
    await git(ctx.integrationWorktree, ['reset', '-q', '--hard', last.to]);
    await recordIntegration(ctx);
  } else if (tip === last.to && recorded !== last.to) {
    await recordIntegration(ctx);
  }
  if (last.followUp === null && tip !== null) {
    const followUp = await writeFollowUp(ctx, last);
    await ctx.store.update(
      (s) => {
        const l = s.ejections?.at(-1);
        if (l) l.followUp = followUp;
      },
      { durable: true },
    );
  }
}

/** The follow-up backlog item for an ejection (found again, not created twice, after a crash). */
async function writeFollowUp(ctx: Ctx, ejection: Ejection): Promise<number> {
  const items = listItems(ctx.plan).filter((i) => ejection.issues.includes(i.issue));
  const st = ctx.store.current().items;
  const title = oneLine(
    `Make gate ${ejection.gate} green with ${items.map((i) => `#${i.issue} ${i.title}`).join(' and ')}`,
  );
  const explain = ejection.log ? explainGateLog(readGateLog(ejection.log)) : '';
  return createFollowUp(ctx, {
    title,
    labels: ['gate-failure'],
    sections: {
      Description:
        `${items.map((i) => `#${i.issue} (${i.title})`).join(' and ')} ${items.length > 1 ? 'turn' : 'turns'} the ` +
        `post-merge gate \`${ejection.gate}\` of milestone ${ctx.plan.milestone.id} red; a bisection found ${items.length > 1 ? 'them' : 'it'}, the fix agents did not make the gate green, and ${items.length > 1 ? 'they were' : 'it was'} ejected so the rest of the milestone could land.`,
      Gate: `- ${ejection.gate}\n- log: ${ejection.log ?? '(none)'}${explain ? `\n\n\`\`\`\n${explain}\n\`\`\`` : ''}`,
      Branches: items.map((i) => `- #${i.issue}: ${st[String(i.issue)]?.branch ?? '?'} (kept, not landed)`).join('\n'),
      Dropped: ejection.dropped.length ? ejection.dropped.map((i) => `- #${i}`).join('\n') : '- (none)',
    },
  });
}
