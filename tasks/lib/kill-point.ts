/**
 * A kill point for crash tests (docs/decisions.md, "Tests"): `WM_KILL_AFTER_EVENT` is JSON
 * `{"any": [<partial event>, …], "n": <count>}`. Right after it has written the n-th event that has every field of one
 * of the partial events, the process SIGKILLs itself: what `kill -9` from outside does, at an exact point instead of
 * wherever a signal sent on seeing the event happens to land (a fast runner is several steps further by then). Unset:
 * nothing happens. It ends the whole process, so it is only for runs in a process of their own.
 */
import { BadInputError } from './errors.ts';

/** The parsed variable: the events to count and the how-many-th one kills. */
export interface KillPoint {
  readonly any: ReadonlyArray<Readonly<Record<string, unknown>>>;
  readonly n: number;
}

/** The kill point `text` describes (null when unset). */
export function parseKillPoint(text: string | undefined): KillPoint | null {
  if (text === undefined || text === '') return null;
  let point: unknown;
  try {
    point = JSON.parse(text);
  } catch {
    point = null;
  }
  const p = point as Partial<KillPoint> | null;
  if (!p || !Array.isArray(p.any) || !Number.isInteger(p.n) || (p.n as number) < 1)
    throw new BadInputError(`WM_KILL_AFTER_EVENT is not {"any": [<partial event>, …], "n": <count ≥ 1>}: ${text}`);
  return { any: p.any, n: p.n as number };
}

/** What the event sink calls after each event it wrote: counts the matching ones and kills at the n-th. */
export function createKillCheck(point: KillPoint | null): ((event: Readonly<Record<string, unknown>>) => void) | null {
  if (!point) return null;
  let seen = 0;
  return (event) => {
    const matches = point.any.some((partial) => Object.entries(partial).every(([key, value]) => event[key] === value));
    if (matches && ++seen === point.n) process.kill(process.pid, 'SIGKILL');
  };
}
