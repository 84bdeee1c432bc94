/** Where the plan's `status` keys (the seed's groomer writes them) and the runner's state disagree; pure. */
import { assertNever } from '../lib/errors.ts';
import type { Plan, PlanItemStatus } from '../lib/plan/types.ts';
import { listItems } from '../lib/plan/types.ts';
import type { ItemState } from '../lib/state-types.ts';

/** The plan status an item's runner state corresponds to. */
function planStatusOf(st: ItemState | undefined): PlanItemStatus {
  const status = st?.status ?? 'pending';
  switch (status) {
    case 'pending':
      return 'pending';
    case 'in-progress':
      return 'in-progress';
    case 'complete':
    case 'partial':
      return st?.merge?.sha != null ? 'complete' : 'in-progress';
    case 'skipped':
      return 'skipped';
    case 'failed':
    case 'escalated':
    case 'ejected':
      return 'failed';
    default:
      return assertNever(status);
  }
}

/** One line per item whose plan `status` differs from its state (none when the plan writes no status). */
export function planStatusDifferences(plan: Plan, items: Readonly<Record<string, ItemState>>): string[] {
  return listItems(plan).flatMap((item) => {
    if (item.planStatus == null) return [];
    const st = items[String(item.issue)];
    const actual = planStatusOf(st);
    if (actual === item.planStatus) return [];
    return [`#${item.issue}: the plan says ${item.planStatus}, the runner's state says ${st?.status ?? 'not started'}`];
  });
}
