/** Parse the completion report an agent ends with (DESIGN §5). */
import type { ItemReport } from '../lib/state-types.ts';

const KEYS = ['STATUS', 'BRANCH', 'FILES_CHANGED', 'COMMITS', 'TASKS_BLOCKED', 'NOTES'] as const;
type Key = (typeof KEYS)[number];
const KEY_LINE = new RegExp(`^[\\s>*\`#-]*(${KEYS.join('|')})[*\`]*\\s*:[*\`]*\\s*(.*)$`);

const STATUS_WORDS: Readonly<Record<string, ItemReport['status']>> = {
  COMPLETE: 'COMPLETE', DONE: 'COMPLETE', PARTIAL: 'PARTIAL', FAILED: 'FAILED', BLOCKED: 'FAILED',
};

function listOf(lines: readonly string[]): string[] {
  return lines
    .map((l) => l.replace(/^\s*(?:[-*•]|\d+\.)\s+/, '').replace(/`/g, '').trim())
    .filter((l) => l !== '' && !/^\(?none\)?\.?$/i.test(l) && l !== '-');
}

/** The report of a final text, or null when it has no STATUS line. The last STATUS line starts the report. */
export function parseReport(text: string): ItemReport | null {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let start = -1;
  lines.forEach((line, i) => {
    if (KEY_LINE.exec(line)?.[1] === 'STATUS') start = i;
  });
  if (start < 0) return null;
  const values = new Map<Key, string[]>();
  let current: Key | null = null;
  for (const line of lines.slice(start)) {
    const m = KEY_LINE.exec(line);
    if (m) {
      current = m[1] as Key;
      values.set(current, m[2]?.trim() ? [m[2].trim()] : []);
    } else if (current && !/^```/.test(line.trim())) {
      values.get(current)?.push(line);
    }
  }
  const word = (values.get('STATUS')?.[0] ?? '').replace(/[^A-Za-z]/g, ' ').trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  const branch = listOf(values.get('BRANCH') ?? [])[0] ?? null;
  return {
    status: STATUS_WORDS[word] ?? null,
    branch,
    filesChanged: listOf(values.get('FILES_CHANGED') ?? []).flatMap((l) => l.split(/,\s*/)).filter(Boolean),
    commits: listOf(values.get('COMMITS') ?? []),
    tasksBlocked: listOf(values.get('TASKS_BLOCKED') ?? []).flatMap((l) => l.split(/,\s*/)).filter(Boolean),
    notes: (values.get('NOTES') ?? []).join('\n').trim(),
  };
}
