/** Durations as the plan writes them: a number of seconds, or `90s`, `45m`, `1h`, `500ms`; more than 0, at most 24h. */
import { BadInputError } from './errors.ts';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest duration a plan may give: 24h (Node timers overflow past 2^31−1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 24 * 3_600_000;

/**
 * What is wrong with a duration, as the end of a sentence about it ("timeout must …"), or undefined when it is fine.
 */
export function durationProblem(value: unknown): string | undefined {
  const ms = toMs(value);
  if (ms === undefined) return 'must be a duration: seconds, or a number with ms, s, m or h (e.g. 45m)';
  if (ms <= 0) return 'must be more than 0';
  if (ms > MAX_DURATION_MS) return 'must be at most 24h';
  return undefined;
}

function toMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
}

/** Milliseconds for a plan duration; throws BadInputError (exit 2) for anything `durationProblem` rejects. */
export function parseDuration(value: number | string): number {
  const problem = durationProblem(value);
  if (problem !== undefined) throw new BadInputError(`duration "${String(value)}" ${problem}`);
  return toMs(value) as number;
}

/** `1h 2m 3s` style, for people. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
