/**
 * The run's budget (docs/plan-format.md, top-level `max-budget-usd`): what the milestone's agents have spent, as
 * they reported it, and the check made before any new agent starts. Agents that report no dollar cost (codex,
 * command, scripted) count as free: the budget does not bound them.
 */
import { NeedsAttentionError } from './errors.ts';
import type { State } from './state-types.ts';

/** US dollars spent by every attempt of every item and every conflict or fix agent, as recorded in state. */
export function spentUsd(state: State): number {
  let sum = 0;
  // `spentUsd` counts every attempt; state of older runs has only the last attempt's result.
  for (const item of Object.values(state.items)) sum += item.spentUsd ?? item.result?.costUsd ?? 0;
  for (const session of state.sessions ?? []) sum += session.costUsd ?? 0;
  return sum;
}

/** Dollars as the messages show them. */
export function formatUsd(usd: number): string {
  return `$${usd.toFixed(4)}`;
}

/**
 * Throw NeedsAttentionError (exit 3) when the run's budget is spent, naming the spend and what was not started
 * (`what`: `#12`, `the fix agent of gate lint`). Agents already running are not stopped: they finish and count.
 */
export function assertWithinBudget(
  plan: { readonly runBudgetUsd: number | null; readonly file: string },
  state: State,
  what: string,
): void {
  const budget = plan.runBudgetUsd;
  if (budget === null) return;
  const spent = spentUsd(state);
  if (spent < budget) return;
  throw new NeedsAttentionError(
    `run budget reached: agents had spent ${formatUsd(spent)} of max-budget-usd ${formatUsd(budget)} when ${what} was due to start; it was not started, agents already running were left to finish; raise max-budget-usd in ${plan.file} and run again to continue`,
  );
}

/**
 * What an agent starting now may spend (its `--max-budget-usd`): its own cap lowered to what is left of the run's
 * budget, so that no single agent can spend past the run's budget (null: no cap at all). Agents running at the same
 * time are each given what is left when they start: together they may still pass it, by at most what the others
 * spend meanwhile (docs/plan-format.md).
 */
export function agentBudgetUsd(
  own: number | null,
  plan: { readonly runBudgetUsd: number | null },
  state: State,
): number | null {
  if (plan.runBudgetUsd === null) return own;
  // Down to a millionth of a dollar: never above what is left, and no float noise in the command line.
  const left = Math.floor(Math.max(plan.runBudgetUsd - spentUsd(state), 0) * 1e6) / 1e6;
  return own === null ? left : Math.min(own, left);
}

/** The notice for a budget that cannot bound some agents: codex reports tokens, not dollars (null: none such). */
export function unpricedNotice(runBudgetUsd: number | null, codexItems: readonly number[]): string | null {
  if (runBudgetUsd === null || codexItems.length === 0) return null;
  return `max-budget-usd bounds the agents that report a dollar cost (claude); codex reports tokens only, so what ${codexItems.map((i) => `#${i}`).join(', ')} spend is not counted`;
}
