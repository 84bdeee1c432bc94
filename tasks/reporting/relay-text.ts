/**
 * Relay text (the seed's format; docs/limits.md, "Relay and prompts"): what a wave learned, for the next waves'
 * prompts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { LIMITS, capEntry, capList, capText, oneLine, stripControl } from '../lib/bounded-text.ts';
import type { PlanWave } from '../lib/plan/types.ts';
import type { CachedItem, ItemState } from '../lib/state-types.ts';
import { readRegularFile } from '../lib/regular-file.ts';

/** The header every relay starts with. */
export const RELAY_HEADER = '## Prior Wave Results';

/** Path of `relay/wave-<W>.md`. */
export function relayPath(stateDir: string, wave: number): string {
  return path.join(stateDir, 'relay', `wave-${wave}.md`);
}

/** One line of relay text: control characters and runs of whitespace become one space. */
const flat = (text: string) => oneLine(stripControl(text));

/**
 * The backlog's triage of an item as one relay line (`- Triage: priority P1; labels: bug, search`), bounded like
 * any list; null when the backlog gave it neither.
 */
function triageLine(cached: CachedItem | undefined): string | null {
  const priority = cached?.priority ? capEntry(flat(cached.priority)) : '';
  const labels = capList((cached?.labels ?? []).map(flat).filter(Boolean));
  const parts = [priority && `priority ${priority}`, labels.length > 0 && `labels: ${labels.join(', ')}`];
  const text = parts.filter(Boolean).join('; ');
  return text ? `- Triage: ${text}` : null;
}

/**
 * The relay of one wave from the items' states (pure) and the backlog items cached at fetch (their priority and
 * labels). Every text and list is capped as state caps it (docs/limits.md), so a state written before the caps
 * relays no more than a new one.
 */
export function formatRelay(
  wave: PlanWave,
  items: Readonly<Record<string, ItemState>>,
  cache: Readonly<Record<string, CachedItem>> = {},
): string {
  const lines = [RELAY_HEADER, `### Wave ${wave.wave} Results`];
  for (const item of wave.items) {
    const st = items[String(item.issue)];
    const result = st?.result;
    lines.push(`#### Item: #${item.issue} — ${capEntry(flat(item.title))}`);
    lines.push(`- Status: ${(st?.status === 'complete' ? 'COMPLETE' : (st?.status ?? 'pending')).toUpperCase()}`);
    const triage = triageLine(cache[String(item.issue)]);
    if (triage) lines.push(triage);
    const files = capList((result?.files ?? []).map(flat));
    lines.push(`- Files changed: ${files.length ? files.join(', ') : 'none'}`);
    lines.push('- Key commits:');
    const commits = capList(
      (result?.commits ?? []).map((c) => flat(c.sha ? `${c.sha.slice(0, 7)}: ${c.subject}` : c.subject)),
    );
    for (const c of commits) lines.push(`  - ${c}`);
    if (!commits.length) lines.push('  - none');
    const notes = [
      result?.report?.notes ? capText(flat(result.report.notes), LIMITS.notesChars) : '',
      st?.failure ? `failed: ${capText(flat(st.failure), LIMITS.failureChars)}` : '',
      st?.skipReason ? capText(flat(st.skipReason), LIMITS.failureChars) : '',
    ]
      .filter(Boolean)
      .join(' ');
    lines.push(`- Design notes: ${notes || 'none'}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Which earlier waves a wave's prompts carry: all, or the last 3 when the plan has 5+ waves. */
export function relayWavesFor(allWaves: readonly number[], wave: number): number[] {
  const earlier = allWaves.filter((w) => w < wave);
  return allWaves.length >= 5 ? earlier.slice(-3) : earlier;
}

/**
 * The relay text a wave's prompts get: earlier waves' relay files under one header, together at most
 * LIMITS.relayPromptChars (each wave an equal share; a cut one says where its file is).
 */
export async function relayForWave(ctx: Ctx, wave: number): Promise<string> {
  const waves = relayWavesFor(
    ctx.plan.waves.map((x) => x.wave),
    wave,
  );
  // Room is left for the header and the markers, so the whole stays within the prompt's cap.
  const share = Math.floor((LIMITS.relayPromptChars - 1024) / Math.max(1, waves.length));
  const parts: string[] = [];
  for (const w of waves) {
    const file = relayPath(ctx.stateDir, w);
    if (!existsSync(file)) continue;
    const text = (await readRegularFile(file)).replace(RELAY_HEADER, '').trim();
    parts.push(capText(text, share, `full text in ${file}`));
  }
  return parts.length ? `${RELAY_HEADER}\n${parts.join('\n')}\n` : '';
}
