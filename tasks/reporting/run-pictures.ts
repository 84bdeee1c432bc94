/**
 * The run as mermaid pictures GitHub renders in `report.md` (pure): the plan graph (items by wave, `depends-on`
 * edges, conflict groups, colour by status) and a gantt timeline from events.jsonl (each agent from start to end,
 * merges, gates, landing).
 */
import { oneLine, stripControl } from '../lib/bounded-text.ts';
import type { StampedEvent } from '../lib/events.ts';
import type { Plan } from '../lib/plan/types.ts';
import { listItems } from '../lib/plan/types.ts';
import type { ItemStatus, State } from '../lib/state-types.ts';

/**
 * A flowchart label: one line, bounded, without what ends or alters a quoted label. Look-alikes, not mermaid's entity
 * codes (`#34;`): mermaid 11 in a browser showed those as `ﬂ°°34¶ß` (checked with headless Chromium).
 */
export function mermaidLabel(text: string, max = 60): string {
  const line = oneLine(stripControl(text));
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return cut
    .replace(/["`]/g, "'")
    .replace(/</g, '‹')
    .replace(/>/g, '›')
    .replace(/#(\w*);/g, '#$1');
}

/** A gantt task name: the title ends at a `:`, `;` separates statements and `%%` starts a comment: none of them. */
function taskName(text: string, max = 60): string {
  const line = oneLine(stripControl(text))
    .replace(/[:;%`"<>{}[\]\\|]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = line.length > max ? `${line.slice(0, max - 1)}…` : line;
  return cut === '' ? '-' : cut;
}

const STATUS_CLASS: Readonly<Record<ItemStatus, string>> = {
  pending: 'pending',
  'in-progress': 'running',
  complete: 'done',
  partial: 'partial',
  failed: 'failed',
  skipped: 'skipped',
  escalated: 'failed',
  ejected: 'failed',
};

/** The plan as a mermaid flowchart: a box per wave, an arrow per `depends-on`, a dotted link per conflict group. */
export function planGraph(plan: Plan, state: State): string {
  const lines = ['flowchart LR'];
  for (const wave of plan.waves) {
    lines.push(`  subgraph w${wave.wave}["Wave ${wave.wave}${wave.parallel ? '' : ' (one after another)'}"]`);
    for (const item of wave.items) {
      const status = state.items[String(item.issue)]?.status ?? 'pending';
      lines.push(
        `    i${item.issue}["${mermaidLabel(`#${item.issue} ${item.title}`)}<br/>${status}"]:::${STATUS_CLASS[status]}`,
      );
    }
    lines.push('  end');
  }
  const items = listItems(plan);
  const known = new Set(items.map((i) => i.issue));
  for (const item of items)
    for (const dep of item.dependsOn) if (known.has(dep)) lines.push(`  i${dep} --> i${item.issue}`);
  for (const group of plan.conflictGroups) {
    const members = items.filter((i) => i.conflictGroup === group.id);
    for (let k = 1; k < members.length; k++)
      lines.push(`  i${members[k - 1]?.issue} -.-|"${mermaidLabel(`group ${group.id}`, 30)}"| i${members[k]?.issue}`);
  }
  lines.push(
    '  classDef done fill:#d4f7d4,stroke:#2e7d32',
    '  classDef partial fill:#fff3c4,stroke:#b28704',
    '  classDef failed fill:#ffd6d6,stroke:#c62828',
    '  classDef skipped fill:#eeeeee,stroke:#9e9e9e',
    '  classDef running fill:#d6e9ff,stroke:#1565c0',
    '  classDef pending fill:#ffffff,stroke:#9e9e9e',
  );
  return lines.join('\n');
}

/** One bar or milestone of the timeline. */
interface Bar {
  readonly section: 'Agents' | 'Merges' | 'Gates' | 'Land';
  readonly name: string;
  readonly tag: 'done' | 'crit' | 'active' | 'milestone' | null;
  readonly start: number;
  readonly end: number;
}

/** An agent's bar: from `agent-spawned` to its `agent-exited` (or the end of what the events show). */
function agentBars(plan: Plan, events: readonly StampedEvent[], lastT: number): Bar[] {
  const bars: Bar[] = [];
  const titleOf = (issue: number) => listItems(plan).find((i) => i.issue === issue)?.title ?? '';
  events.forEach((e, i) => {
    if (e.type !== 'agent-spawned') return;
    // Its exit, unless the next agent of that item and role started first (this one died unseen).
    const next = events
      .slice(i + 1)
      .find(
        (x) => (x.type === 'agent-exited' || x.type === 'agent-spawned') && x.issue === e.issue && x.role === e.role,
      );
    const exit = next?.type === 'agent-exited' ? next : undefined;
    const end = next ? Date.parse(next.t) : lastT;
    const code = exit ? exit.exitCode : null;
    const who =
      e.role === 'item'
        ? `#${e.issue} ${taskName(titleOf(e.issue), 40)} (attempt ${e.attempt})`
        : `${e.role} agent${e.issue ? ` of #${e.issue}` : ' of the gates'}`;
    bars.push({
      section: 'Agents',
      name: who,
      tag: exit ? (code === 0 ? 'done' : 'crit') : next ? 'crit' : 'active',
      start: Date.parse(e.t),
      end,
    });
  });
  return bars;
}

/** The gates step's spans, each gate's result, merges and the landing. */
function otherBars(events: readonly StampedEvent[], lastT: number): Bar[] {
  const bars: Bar[] = [];
  events.forEach((e, i) => {
    const t = Date.parse(e.t);
    if (e.type === 'merge')
      bars.push({ section: 'Merges', name: `merge #${e.issue} ${e.kind}`, tag: 'milestone', start: t, end: t });
    else if (e.type === 'gate')
      bars.push({
        section: 'Gates',
        name: `${taskName(e.name, 40)} ${e.exitCode === 0 ? 'green' : `red (exit ${e.exitCode})`}`,
        tag: 'milestone',
        start: t,
        end: t,
      });
    else if (e.type === 'land')
      bars.push({ section: 'Land', name: `main ${e.phase} ${e.sha.slice(0, 10)}`, tag: 'milestone', start: t, end: t });
    else if (e.type === 'step-start' && (e.node === 'gates' || e.node === 'land')) {
      const end = events
        .slice(i + 1)
        .find(
          (x) => (x.type === 'step-done' || x.type === 'step-failed' || x.type === 'step-skip') && x.node === e.node,
        );
      bars.push({
        section: e.node === 'gates' ? 'Gates' : 'Land',
        name: `${e.node} step`,
        tag: end?.type === 'step-failed' ? 'crit' : end ? 'done' : 'active',
        start: t,
        end: end ? Date.parse(end.t) : lastT,
      });
    }
  });
  return bars;
}

/** Every bar is at least this long, so that a quick one can be seen. */
const MIN_BAR_MS = 1000;

/**
 * The run as a mermaid gantt chart (`dateFormat x`: times in ms since the epoch), or null when the events show no
 * agent, merge, gate or landing.
 */
export function runGantt(plan: Plan, events: readonly StampedEvent[]): string | null {
  const timed = events.filter((e) => Number.isFinite(Date.parse(e.t)));
  if (timed.length === 0) return null;
  const lastT = Math.max(...timed.map((e) => Date.parse(e.t)));
  const bars = [...agentBars(plan, timed, lastT), ...otherBars(timed, lastT)];
  if (bars.length === 0) return null;
  const lines = [
    'gantt',
    `  title ${taskName(`Milestone ${plan.milestone.id} ${plan.milestone.title}`, 80)}`,
    '  dateFormat x',
    '  axisFormat %H:%M:%S',
  ];
  let n = 0;
  for (const section of ['Agents', 'Merges', 'Gates', 'Land'] as const) {
    const mine = bars.filter((b) => b.section === section).sort((a, b) => a.start - b.start);
    if (mine.length === 0) continue;
    lines.push(`  section ${section}`);
    for (const b of mine) {
      n++;
      const end = b.tag === 'milestone' ? b.start : Math.max(b.end, b.start + MIN_BAR_MS);
      lines.push(`    ${taskName(b.name)} :${b.tag ? `${b.tag}, ` : ''}b${n}, ${b.start}, ${end}`);
    }
  }
  return lines.join('\n');
}
