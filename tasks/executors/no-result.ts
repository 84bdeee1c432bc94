/** The outcome of an agent run that left no result (stopped, lost, no exit code), the same for every executor. */
import type { AgentOutcome } from '../agents/types.ts';

/** An outcome for a run that left no result: not ok, with `failure` as the reason. */
export function noResult(failure: string): AgentOutcome {
  return { ok: false, text: '', failure, costUsd: null, turns: null, sessionId: null, usage: null, denials: [] };
}
