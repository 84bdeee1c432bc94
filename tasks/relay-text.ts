/** Relay text (DESIGN §5, the seed's format): what a wave learned, for the next waves' prompts. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from './context.ts';
import type { PlanWave } from './lib/plan-types.ts';
import type { ItemState } from './lib/state-types.ts';

/** The header every relay starts with. */
export const RELAY_HEADER = '## Prior Wave Results';

/** Path of `relay/wave-<W>.md`. */
export function relayPath(stateDir: string, wave: number): string {
  return path.join(stateDir, 'relay', `wave-${wave}.md`);
}

/** The relay of one wave from the items' states (pure). */
export function formatRelay(wave: PlanWave, items: Readonly<Record<string, ItemState>>): string {
  const lines = [RELAY_HEADER, `### Wave ${wave.wave} Results`];
  for (const item of wave.items) {
    const st = items[String(item.issue)];
    const result = st?.result;
    lines.push(`#### Item: #${item.issue} — ${item.title.replace(/\s+/g, ' ')}`);
    lines.push(`- Status: ${(st?.status === 'complete' ? 'COMPLETE' : st?.status ?? 'pending').toUpperCase()}`);
    lines.push(`- Files changed: ${result?.files.length ? result.files.join(', ') : 'none'}`);
    lines.push('- Key commits:');
    for (const c of result?.commits ?? []) lines.push(`  - ${c.sha.slice(0, 7)}: ${c.subject}`);
    if (!result?.commits.length) lines.push('  - none');
    const notes = [result?.report?.notes, st?.failure ? `failed: ${st.failure}` : '', st?.skipReason ?? ''].filter(Boolean).join(' ');
    lines.push(`- Design notes: ${notes.replace(/\s*\n\s*/g, ' ') || 'none'}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Which earlier waves a wave's prompts carry: all, or the last 3 when the plan has 5+ waves. */
export function relayWavesFor(allWaves: readonly number[], wave: number): number[] {
  const earlier = allWaves.filter((w) => w < wave);
  return allWaves.length >= 5 ? earlier.slice(-3) : earlier;
}

/** The relay text a wave's prompts get: earlier waves' relay files under one header. */
export async function relayForWave(ctx: Ctx, wave: number): Promise<string> {
  const parts: string[] = [];
  for (const w of relayWavesFor(ctx.plan.waves.map((x) => x.wave), wave)) {
    const file = relayPath(ctx.stateDir, w);
    if (existsSync(file)) parts.push((await readFile(file, 'utf8')).replace(RELAY_HEADER, '').trim());
  }
  return parts.length ? `${RELAY_HEADER}\n${parts.join('\n')}\n` : '';
}
