/** The report's account of red gates explained by bisection (docs/bisection.md): flaky gates and ejections; pure. */
import type { BisectProbe, State } from '../lib/state-types.ts';

/** One candidate tip as a table row: its mode, sha, items and verdict. */
function probeRow(p: BisectProbe): string {
  const items = p.items.length ? p.items.map((i) => `#${i}`).join(' ') : '(none)';
  const what = p.mode === 'with-culprit' ? `${p.sha.slice(0, 10)} + the culprit alone` : p.sha.slice(0, 10);
  const verdict = p.green ? 'green' : p.log === null ? 'red (does not apply)' : 'red';
  return `| ${what} | ${items} | ${verdict} |`;
}

/** Lines of the report's `## Bisection` section; none when no gate was flaky and nothing was ejected. */
export function bisectionLines(state: State): string[] {
  const flaky = state.gates?.flaky ?? [];
  const ejections = state.ejections ?? [];
  if (flaky.length === 0 && ejections.length === 0) return [];
  const lines = ['## Bisection', ''];
  if (flaky.length)
    lines.push(`Flaky (red, then green on the same sha): ${flaky.map((g) => `\`${g}\``).join(', ')}.`, '');
  for (const e of ejections) {
    const who = e.issues.map((i) => `#${i}`).join(' and ');
    lines.push(
      `Gate \`${e.gate}\` was red; ${e.issues.length > 1 ? `${who} break it together` : `${who} turns it red`}: ejected` +
        `${e.dropped.length ? ` with ${e.dropped.map((i) => `#${i}`).join(' ')}` : ''}` +
        `${e.followUp !== null ? `, follow-up #${e.followUp}` : ''}; integration rebuilt ${e.from.slice(0, 10)} → ${e.to.slice(0, 10)}.`,
      '',
      '| candidate tip | items since the last green tip | gate |',
      '|---|---|---|',
      ...e.probes.map(probeRow),
      '',
    );
  }
  return lines;
}
