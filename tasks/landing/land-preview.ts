/**
 * What `run --dry-run` says a `land: pull-request` landing would do, from GitHub's answers to reads only (the
 * repository, main's rules and protection, the open pull request of the integration branch): nothing is written.
 */
import type { Ctx } from '../engine/context.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { mergeRulesOf, type MergeRules } from './merge-rules.ts';
import { openPullSession, pullsOfBranch } from './pull-request.ts';

/** How GitHub will merge, in words. */
function mergeWords(rules: MergeRules): string {
  const checks = rules.required ? `the required checks (${rules.required.join(', ')})` : 'the checks of its head';
  if (rules.queue)
    return `add it to ${MAIN_BRANCH}'s merge queue and wait until GitHub merged it (the queue runs ${checks})`;
  const merge = `wait for ${checks}, then merge it with a merge commit`;
  return rules.autoMerge ? `${merge} (or enable auto-merge while checks are pending)` : merge;
}

/** One sentence: push, open or reuse the pull request, wait, merge / auto-merge / queue. */
export async function previewPullRequestLanding(ctx: Ctx): Promise<string> {
  const branch = ctx.plan.milestone.integrationBranch;
  const push = `push ${branch} to origin (never forced)`;
  try {
    const session = await openPullSession(ctx);
    const [rules, pulls] = await Promise.all([mergeRulesOf(session), pullsOfBranch(session, branch)]);
    const open = pulls.find((p) => p.state === 'open');
    const pull = open
      ? `reuse pull request #${open.number} (${open.url}) with the run report as its body`
      : `open a pull request from ${branch} into ${MAIN_BRANCH} with the run report as its body`;
    return `land: pull-request would ${push}, ${pull}, ${mergeWords(rules)}`;
  } catch (error) {
    const why = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return (
      `land: pull-request would ${push}, open (or reuse) a pull request into ${MAIN_BRANCH}, wait for its checks ` +
      `and merge it (or queue it / enable auto-merge, as ${MAIN_BRANCH} requires); GitHub could not be read: ${why}`
    );
  }
}
