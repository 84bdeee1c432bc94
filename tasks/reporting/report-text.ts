/**
 * `report.md`: items (priority, labels, status, attempts, time, cost, tokens), the plan graph and the run's timeline
 * as mermaid pictures, conflicts and their resolution, gates, the follow-ups created (pure formatting).
 */
import { LIMITS, capEntry, capList, capText, oneLine, stripControl } from '../lib/bounded-text.ts';
import { formatDuration } from '../lib/duration.ts';
import { bisectionLines } from './bisection-text.ts';
import type { StampedEvent } from '../lib/events.ts';
import type { Plan } from '../lib/plan/types.ts';
import type { State } from '../lib/state-types.ts';
import { planGraph, runGantt } from './run-pictures.ts';
import { addTokens, formatTokens, tokensOf, totalOf } from './tokens.ts';

/** One line, control characters gone, runs of whitespace one space. */
const flat = (s: string) => oneLine(stripControl(s));
const cell = (s: string) => capEntry(flat(s)).replace(/\|/g, '\\|');

/** An item's flags as report.md lists them: capped as state caps them (docs/limits.md), also for older state. */
const FLAG_CAP = {
  entries: LIMITS.flags,
  entryChars: LIMITS.flagChars,
  totalChars: LIMITS.flags * LIMITS.flagChars,
} as const;

/** A follow-up backlog item the run created, and why. */
export interface CreatedFollowUp {
  readonly issue: number;
  readonly from: number;
  readonly why: 'partial' | 'escalated' | 'ejected';
}

/**
 * The follow-ups the run created: PARTIAL remainders (`followUps`), escalated conflicts (`merge.followUp`) and, for a
 * state rebuilt without them, the escalations events.jsonl names (`(backlog item #N)`).
 */
export function followUpsCreated(plan: Plan, state: State, events: readonly StampedEvent[] = []): CreatedFollowUp[] {
  const found = new Map<number, CreatedFollowUp>();
  for (const item of plan.waves.flatMap((w) => w.items)) {
    const st = state.items[String(item.issue)];
    for (const f of st?.followUps ?? []) found.set(f, { issue: f, from: item.issue, why: 'partial' });
    if (st?.merge?.followUp)
      found.set(st.merge.followUp, {
        issue: st.merge.followUp,
        from: item.issue,
        why: st.status === 'ejected' ? 'ejected' : 'escalated',
      });
  }
  for (const e of state.ejections ?? [])
    if (e.followUp !== null) found.set(e.followUp, { issue: e.followUp, from: e.issues[0] ?? 0, why: 'ejected' });
  for (const e of events) {
    const m = e.type === 'item' && e.status === 'escalated' ? /\(backlog item #(\d+)\)$/.exec(e.detail ?? '') : null;
    if (m && e.type === 'item' && !found.has(Number(m[1])))
      found.set(Number(m[1]), { issue: Number(m[1]), from: e.issue, why: 'escalated' });
  }
  return [...found.values()].sort((a, b) => a.issue - b.issue);
}

/** The report of a milestone run; `events` (events.jsonl) give the timeline. */
export function formatReport(
  plan: Plan,
  state: State,
  kept: readonly string[],
  events: readonly StampedEvent[] = [],
): string {
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
    '| wave | item | status | merge | attempts | time | cost | turns | tokens | priority | labels |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  let cost = 0;
  let turns = 0;
  for (const item of items) {
    const st = state.items[String(item.issue)];
    const cached = state.cache[String(item.issue)];
    const r = st?.result;
    cost += r?.costUsd ?? 0;
    turns += r?.turns ?? 0;
    const priority = item.priority ?? cached?.priority ?? null;
    const labels = cached?.labels?.length ? cell(cached.labels.join(', ')) : '-';
    const cells = [
      item.wave,
      `#${item.issue} ${cell(item.title)}`,
      st?.status ?? 'pending',
      st?.merge?.kind ?? '-',
      st?.attempts ?? 0,
      r ? formatDuration(r.durationMs) : '-',
      r?.costUsd != null ? `$${r.costUsd.toFixed(4)}` : '-',
      r?.turns ?? '-',
      formatTokens(tokensOf(r?.usage)),
      priority ? cell(priority) : '-',
      labels,
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const tokens = addTokens(items.map((i) => tokensOf(state.items[String(i.issue)]?.result?.usage)));
  for (const s of state.sessions ?? []) {
    cost += s.costUsd ?? 0;
    turns += s.turns ?? 0;
  }
  const sessions = state.sessions?.length ? ` (items, plus ${state.sessions.length} conflict/fix agent run(s))` : '';
  lines.push('', `Agent cost: $${cost.toFixed(4)}; turns: ${turns}${sessions}.`);
  if (totalOf(tokens) > 0) lines.push(`Item agents' tokens: ${formatTokens(tokens)}.`);
  lines.push('');
  lines.push('## Plan', '', '```mermaid', planGraph(plan, state), '```', '');
  const gantt = runGantt(plan, events);
  if (gantt) lines.push('## Timeline', '', '```mermaid', gantt, '```', '');
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
  const why = {
    partial: 'what was left when it merged PARTIAL',
    escalated: 'its escalated merge conflict',
    ejected: 'the gate it turned red (ejected)',
  } as const;
  const followUps = followUpsCreated(plan, state, events).map((f) => `- #${f.issue} (from #${f.from}): ${why[f.why]}`);
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
