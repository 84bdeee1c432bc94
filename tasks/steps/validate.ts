/**
 * validate: the plan parsed and checked (context creation did that), its items open in the backlog, its hash recorded.
 */
import { firstOf, oneLine } from '../lib/bounded-text.ts';
import { gitRaw } from '../lib/git.ts';
import { gitDirOf } from '../lib/git-files.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { itemFileIn, runnerFilesOf } from '../guards/runner-files.ts';
import { readRegularFileSync } from '../lib/regular-file.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BACKLOG_READS_AT_ONCE, type Backlog } from '../backlog/backlog.ts';
import { settleAtMost } from '../lib/map-at-most.ts';
import { settledValues } from '../lib/diagnostics.ts';
import type { Ctx } from '../engine/context.ts';
import { BadInputError } from '../lib/errors.ts';
import { listItems } from '../lib/plan/types.ts';
import { followUpMarkerPrefix } from '../merging/follow-ups.ts';
import { emptyItem } from '../lib/state-types.ts';
import { unpricedNotice } from '../lib/run-budget.ts';
import { settingsFor } from '../items/agent-settings.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import { refuseDroppedMerges } from '../merging/dropped-merges.ts';

/**
 * Open items of the milestone that the plan does not hold: groomed since, or added by hand (GitHub: any issue not
 * closed; files: front matter `status: open`, named by file). Follow-ups this milestone created itself (they carry
 * its marker) are carried over, not staleness.
 */
async function missingFromPlan(ctx: Ctx, backlog: Backlog): Promise<string[]> {
  const planned = new Set(listItems(ctx.plan).map((i) => i.issue));
  const ours = followUpMarkerPrefix(ctx.plan.milestone.id);
  const github = backlog.kind === 'github';
  return (await backlog.listItems(ctx.plan.milestone.id))
    .filter((i) => (github ? i.status !== 'done' : i.status === 'open'))
    .filter((i) => !planned.has(i.issue) && !i.body.includes(ours))
    .map((i) =>
      github
        ? `open issue #${i.issue} (${shortLine(i.title)}) of milestone ${ctx.plan.milestone.id} is not in the plan`
        : `open item #${i.issue} (${shortLine(i.title)}, ${i.source}) of milestone ${ctx.plan.milestone.id} is not ` +
          'in the plan',
    );
}

const shortLine = (text: string): string => oneLine(text).slice(0, 80);

/**
 * The branch the user's checkout is on: from its HEAD file, else (a reftable repository's HEAD file names no branch)
 * asked of git; null on a detached HEAD.
 */
async function checkoutBranch(repo: string): Promise<string | null> {
  try {
    const head = readRegularFileSync(path.join(gitDirOf(repo) ?? path.join(repo, '.git'), 'HEAD'));
    const named = /^ref: refs\/heads\/(\S+)\n$/.exec(head)?.[1];
    if (named && named !== '.invalid') return named;
    if (/^[0-9a-f]{40,64}\n$/.test(head)) return null;
  } catch {
    // Not readable here: git says.
  }
  return (await gitRaw(repo, ['symbolic-ref', '--short', '-q', 'HEAD'])).stdout.trim() || null;
}

/**
 * A file backlog read from a checkout on another branch (a plan groomed on a branch of its own) must be on main too:
 * the milestone is built from main and landing marks its items done there. Found out only at landing, after every
 * agent ran, it would stop the run there. One `ls-tree` of the backlog folder, only when the checkout is not on main.
 */
async function assertBacklogOnMain(ctx: Ctx, issues: readonly number[]): Promise<void> {
  const dir = runnerFilesOf(ctx.plan).backlogDir;
  if (dir === null || issues.length === 0) return;
  const on = await checkoutBranch(ctx.repo);
  if (on === MAIN_BRANCH) return;
  // The folder's own entries (item files are at its top), not the whole tree below it.
  const args = ['ls-tree', '-z', '--name-only', `refs/heads/${MAIN_BRANCH}`, ...(dir ? ['--', `${dir}/`] : [])];
  const listed = await gitRaw(ctx.repo, args);
  // No main: the branch step says so, in its own words.
  if (listed.exitCode !== 0) return;
  const onMain = new Set(listed.stdout.split('\0'));
  const missing = issues.map((issue) => itemFileIn(dir, issue)).filter((file) => !onMain.has(file));
  if (missing.length === 0) return;
  throw new BadInputError(
    `${firstOf(missing)} ${missing.length === 1 ? 'is' : 'are'} not on ${MAIN_BRANCH}, where the milestone is built ` +
      `and landing marks its items done (your checkout is on ${on ?? 'a detached HEAD'}); commit the plan and its ` +
      `backlog to ${MAIN_BRANCH} first, then run again`,
  );
}

/** validate step. */
export const validate: Step = {
  id: 'validate',
  async check(ctx) {
    const recorded = ctx.store.current().plan;
    if (!recorded) return todo('plan not validated yet');
    if (recorded.hash !== ctx.plan.hash) return todo('plan changed since it was validated');
    return DONE;
  },
  async run(ctx, _scope, progress) {
    // Agents read the template when they start, long after this: a missing one is bad input now, not a crash then.
    const template = ctx.plan.defaults.promptTemplate;
    if (template !== null && !existsSync(path.resolve(ctx.repo, template))) {
      throw new BadInputError(
        `${ctx.plan.file}: defaults.prompt-template ${template} does not exist (paths are relative to the repository)`,
      );
    }
    const backlog = ctx.openBacklog(ctx.repo);
    const state = ctx.store.current();
    const problems: string[] = [];
    const planned = listItems(ctx.plan);
    // Side by side: one file (or one issue) each, read one after another they cost a 200-item run a second.
    const read = settledValues(
      await settleAtMost(planned, BACKLOG_READS_AT_ONCE, (item) => backlog.readItem(item.issue)),
    );
    for (const [i, item] of planned.entries()) {
      const found = read[i];
      // An item this milestone already merged may be done: that is our own doing, not staleness.
      const ours = state.items[String(item.issue)]?.merge?.sha != null;
      const file = ctx.plan.backlog.kind === 'file' ? ` (no ${ctx.plan.backlog.dir}/${item.issue}.md)` : '';
      if (!found) problems.push(`#${item.issue} is not in the backlog${file}`);
      else if (found.status !== 'open' && found.status !== 'in-progress' && !ours)
        problems.push(
          `#${item.issue} is ${backlog.kind === 'github' && found.status === 'done' ? 'closed' : found.status} (${found.source})`,
        );
    }
    await assertBacklogOnMain(
      ctx,
      planned.filter((_, i) => read[i]).map((item) => item.issue),
    );
    problems.push(...(await missingFromPlan(ctx, backlog)));
    refuseDroppedMerges(ctx);
    if (problems.length > 0) {
      const groom = backlog.kind === 'github' ? ` (the seed's /groom-milestone ${ctx.plan.milestone.id})` : '';
      throw new BadInputError(
        `plan is stale: ${problems.join(', ')}; regroom milestone ${ctx.plan.milestone.id}${groom}`,
      );
    }
    await ctx.store.update((s) => {
      s.plan = { hash: ctx.plan.hash, file: ctx.plan.file, validatedAt: new Date().toISOString() };
      for (const item of listItems(ctx.plan)) {
        s.items[String(item.issue)] ??= emptyItem(item.issue, item.wave);
      }
    });
    progress.output(`${listItems(ctx.plan).length} items in ${ctx.plan.waves.length} waves`);
    const codex = listItems(ctx.plan).filter((i) => settingsFor(ctx, i).agent === 'codex');
    const notice = unpricedNotice(
      ctx.plan.runBudgetUsd,
      codex.map((i) => i.issue),
    );
    if (notice) ctx.events.emit({ type: 'notice', message: notice });
  },
};
