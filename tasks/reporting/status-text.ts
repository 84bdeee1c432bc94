/** `status` as lines for people (docs/status.md); pure. */
import { oneLine, stripControl } from '../lib/bounded-text.ts';
import { formatDuration } from '../lib/duration.ts';
import { assertNever } from '../lib/errors.ts';
import type { AgentLife, StatusItem, StatusView } from './status-view.ts';
import { formatTokens, totalOf } from './tokens.ts';

const flat = (s: string, max = 200) => {
  const line = oneLine(stripControl(s));
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/** What an in-progress item's agent is doing, in words. */
function describeAgent(item: StatusItem): string {
  const a = item.agent;
  const life: AgentLife = a.life;
  switch (life) {
    case 'running':
      return `agent running, pid ${a.pid}`;
    case 'exited':
      return `agent exited (code ${a.exitCode}), not judged yet`;
    case 'gone':
      return `agent gone${a.pid ? ` (pid ${a.pid})` : ''} without an exit code, not judged yet`;
    case 'not started':
      return 'agent not started yet';
    case 'ended':
      return 'agent ended';
    default:
      return assertNever(life);
  }
}

function itemLine(item: StatusItem): string {
  const running = item.status === 'in-progress';
  const extra = [
    running ? `attempt ${item.attempts}` : item.attempts > 1 ? `${item.attempts} attempts` : '',
    // A remote agent's process is not on this machine: where it runs is what there is to say.
    running ? (item.remote ? `remote: ${item.remote}` : describeAgent(item)) : '',
    item.merge ? `merge ${item.merge}` : '',
    item.costUsd !== null ? `$${item.costUsd.toFixed(4)}` : '',
    item.turns !== null ? `${item.turns} turns` : '',
    item.elapsedMs !== null ? formatDuration(item.elapsedMs) : '',
    item.tokens ? formatTokens(item.tokens) : '',
    item.followUps.length ? `follow-up ${item.followUps.map((f) => `#${f}`).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const failure = item.failure ? ` — ${flat(item.failure.split('\n')[0] ?? '')}` : '';
  const activity = running && item.agent.activity ? `\n      last: ${flat(item.agent.activity, 120)}` : '';
  const head = `  wave ${item.wave}  #${item.issue} ${flat(item.title, 60)}: ${item.status}`;
  return `${head}${extra ? ` (${extra})` : ''}${failure}${activity}`;
}

/** The runner line: attached (pid, steps), a stale lock, or how the last run ended. */
function runnerLine(view: StatusView): string | null {
  const r = view.runner;
  if (r?.attached) {
    const steps = view.steps.length ? `; running: ${view.steps.join(', ')}` : '';
    return `  runner: pid ${r.pid} (${flat(r.command, 60)}), since ${r.since}${steps}`;
  }
  if (view.phase === 'complete' || view.phase === 'not started') return null;
  const last = view.lastRun;
  const said = last?.message ? `: ${flat(last.message, 120)}` : '';
  const ended =
    last?.endedAt != null
      ? `; the last run (pid ${last.pid}) ended with exit ${last.exitCode}${said}`
      : last
        ? `; the last run (pid ${last.pid}) ended without a word (killed?)`
        : '';
  const stale = r ? ` (run.lock of pid ${r.pid} is stale)` : '';
  return `  runner: none attached${stale}${ended}`;
}

/** The status as text. */
export function formatStatus(view: StatusView): string {
  const id = view.milestone;
  if (view.phase === 'not started') return `milestone ${id}: not started`;
  const lines = [`milestone ${id}: ${view.phase} (${view.integrationBranch})`];
  const runner = runnerLine(view);
  if (runner) lines.push(runner);
  for (const item of view.items) lines.push(itemLine(item));
  for (const s of view.sessions)
    lines.push(
      `  ${s.name.replace(/-.*/, '')} agent ${s.name}${s.issue ? ` of #${s.issue}` : ''}: ` +
        `running, pid ${s.pid}, since ${s.since}`,
    );
  for (const g of view.gates.red)
    lines.push(
      `  gate ${g.phase} \`${flat(g.name, 80)}\`: red (exit ${g.exitCode}) on ${g.sha.slice(0, 10)}` +
        `${g.log ? `; log: ${g.log}` : ''}`,
    );
  if (view.attention.length) {
    lines.push('  needs attention:');
    for (const a of view.attention) lines.push(`    #${a.issue} ${a.status}: ${flat(a.why)}`);
  }
  const tokens = totalOf(view.tokens) > 0 ? `; tokens: ${formatTokens(view.tokens)}` : '';
  if (view.costUsd > 0 || tokens) lines.push(`  agent cost: $${view.costUsd.toFixed(4)}${tokens}`);
  if (view.next) lines.push(`  next: ${view.next}`);
  return lines.join('\n');
}

/** What changed between two views, for `--watch` without a TTY: the view without the clock's share. */
export function statusKey(view: StatusView): string {
  return JSON.stringify({
    ...view,
    items: view.items.map((i) => ({ ...i, elapsedMs: i.status === 'in-progress' ? null : i.elapsedMs })),
  });
}
