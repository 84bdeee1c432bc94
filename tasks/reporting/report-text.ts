/** `report.md`: items, statuses, conflicts and their resolution, gates, durations, costs (pure formatting). */
import { LIMITS, capEntry, capList, capText, oneLine, stripControl } from '../lib/bounded-text.ts';
import { formatDuration } from '../lib/duration.ts';
import { bisectionLines } from './bisection-text.ts';
import type { Plan } from '../lib/plan/types.ts';
import type { State } from '../lib/state-types.ts';

/** One line, control characters gone, runs of whitespace one space. */
const flat = (s: string) => oneLine(stripControl(s));
const cell = (s: string) => capEntry(flat(s)).replace(/\|/g, '\\|');

/** An item's flags as report.md lists them: capped as state caps them (docs/limits.md), also for older state. */
const FLAG_CAP = {
  entries: LIMITS.flags,
  entryChars: LIMITS.flagChars,
  totalChars: LIMITS.flags * LIMITS.flagChars,
} as const;

/** The report of a milestone run. */
export function formatReport(plan: Plan, state: State, kept: readonly string[]): string {
  const items = plan.waves.flatMap((w) => w.items);
  const lines = [`# Milestone ${plan.milestone.id}: ${plan.milestone.title}`, ''];
  if (state.land)
    lines.push(
      `Landed on main as ${state.land.mainAfter.slice(0, 10)} (integration ${state.land.integration.slice(0, 10)})${state.land.pushed ? ', pushed to origin' : ''}.`,
      '',
    );
  lines.push(
    '## Items',
    '',
    '| wave | item | status | merge | attempts | time | cost | turns |',
    '|---|---|---|---|---|---|---|---|',
  );
  let cost = 0;
  let turns = 0;
  for (const item of items) {
    const st = state.items[String(item.issue)];
    const r = st?.result;
    cost += r?.costUsd ?? 0;
    turns += r?.turns ?? 0;
    lines.push(
      `| ${item.wave} | #${item.issue} ${cell(item.title)} | ${st?.status ?? 'pending'} | ${st?.merge?.kind ?? '-'} | ${st?.attempts ?? 0} | ${r ? formatDuration(r.durationMs) : '-'} | ${r?.costUsd != null ? `$${r.costUsd.toFixed(4)}` : '-'} | ${r?.turns ?? '-'} |`,
    );
  }
  for (const s of state.sessions ?? []) {
    cost += s.costUsd ?? 0;
    turns += s.turns ?? 0;
  }
  const sessions = state.sessions?.length ? ` (items, plus ${state.sessions.length} conflict/fix agent run(s))` : '';
  lines.push('', `Agent cost: $${cost.toFixed(4)}; turns: ${turns}${sessions}.`, '');
  const conflicts = items
    .map((i) => state.items[String(i.issue)])
    .filter((s) => s?.merge && s.merge.kind !== 'clean' && s.merge.kind !== 'empty');
  lines.push('## Conflicts', '');
  if (conflicts.length === 0) lines.push('None.');
  for (const s of conflicts)
    lines.push(
      `- #${s?.issue} (${s?.merge?.kind}): ${capText(flat(s?.merge?.note ?? ''), LIMITS.failureChars)}${s?.merge?.followUp ? ` → backlog item #${s.merge.followUp}` : ''}`,
    );
  lines.push('', '## Gates', '');
  if (!state.gates || state.gates.results.length === 0) lines.push('No gates ran.');
  for (const g of state.gates?.results ?? [])
    lines.push(`- ${g.phase} \`${g.name}\`: exit ${g.exitCode} in ${formatDuration(g.durationMs)}`);
  if (state.gates?.fixAttempts) lines.push(`- fix attempts: ${state.gates.fixAttempts}`);
  const bisection = bisectionLines(state);
  if (bisection.length) lines.push('', ...bisection.slice(0, -1));
  const followUps = items.flatMap(
    (i) => state.items[String(i.issue)]?.followUps.map((f) => `- #${f} (from #${i.issue})`) ?? [],
  );
  const notes = items.flatMap((i) =>
    capList((state.items[String(i.issue)]?.result?.flags ?? []).map(flat), FLAG_CAP).map((f) => `- #${i.issue}: ${f}`),
  );
  lines.push('', '## Follow-ups', '', ...(followUps.length ? followUps : ['None.']));
  if (notes.length) lines.push('', '## Flags', '', ...notes);
  if (kept.length)
    lines.push('', '## Kept (not merged, or holding uncommitted work)', '', ...kept.map((b) => `- ${b}`));
  if (state.prepare?.kind === 'stashed')
    lines.push(
      '',
      `Auto-stash ref ${state.prepare.sha} pending; run 'git stash pop ${state.prepare.sha}' to restore.`,
      `(\`git stash apply ${state.prepare.sha}\` restores it whatever its place in \`git stash list\`.)`,
    );
  return `${lines.join('\n')}\n`;
}
