/** How many agents may run at once: the plan's (or flag's) number, never more than free memory / 2 GiB. */
import os from 'node:os';

const PER_AGENT_BYTES = 2 * 1024 ** 3;

/** The effective limit and whether memory is what set it. */
export function agentConcurrency(
  requested: number,
  freeBytes = os.freemem(),
): { readonly limit: number; readonly byMemory: boolean } {
  const memoryLimit = Math.max(1, Math.floor(freeBytes / PER_AGENT_BYTES));
  return memoryLimit < requested ? { limit: memoryLimit, byMemory: true } : { limit: requested, byMemory: false };
}
