/** Parse the completion report an agent ends with (its fields: README, "Agents"). */
import { LIMITS, LIST_CAP, capEntry, capList, capText, stripControl } from '../lib/bounded-text.ts';
import type { ItemReport } from '../lib/state-types.ts';

const KEYS = ['STATUS', 'BRANCH', 'FILES_CHANGED', 'COMMITS', 'TASKS_BLOCKED', 'NOTES'] as const;
type Key = (typeof KEYS)[number];
const KEY_LINE = new RegExp(`^[\\s>*\`#-]*(${KEYS.join('|')})[*\`]*\\s*:[*\`]*\\s*(.*)$`);

const STATUS_WORDS: Readonly<Record<string, ItemReport['status']>> = {
  COMPLETE: 'COMPLETE',
  DONE: 'COMPLETE',
  PARTIAL: 'PARTIAL',
  FAILED: 'FAILED',
  BLOCKED: 'FAILED',
};

function listOf(lines: readonly string[]): string[] {
  return lines
    .map((l) =>
      l
        .replace(/^\s*(?:[-*•]|\d+\.)\s+/, '')
        .replace(/`/g, '')
        .trim(),
    )
    .filter((l) => l !== '' && !/^\(?none\)?\.?$/i.test(l) && l !== '-');
}

/** The status word of a STATUS value (`**COMPLETE**`, `done.`, `✅ Complete`), or null when it is none of ours. */
function statusWord(value: string): ItemReport['status'] {
  const word =
    value
      .replace(/[^A-Za-z]/g, ' ')
      .trim()
      .split(/\s+/)[0]
      ?.toUpperCase() ?? '';
  return STATUS_WORDS[word] ?? null;
}

/**
 * The report of a final text, or null when it has no STATUS line. The last STATUS line with a valid status word
 * starts the report (a later "STATUS: …" line in free text does not replace it); with none valid, the last one.
 * NUL and other control characters but tab and newline are removed first: nothing of them reaches state, git or
 * a prompt. Nothing is cut here (the judge compares the whole lists with git); callers cap what they keep.
 */
export function parseReport(text: string): ItemReport | null {
  const lines = stripControl(text).split('\n');
  let start = -1;
  let valid = -1;
  lines.forEach((line, i) => {
    const m = KEY_LINE.exec(line);
    if (m?.[1] !== 'STATUS') return;
    start = i;
    if (statusWord(m[2] ?? '') !== null) valid = i;
  });
  if (valid >= 0) start = valid;
  if (start < 0) return null;
  const values = new Map<Key, string[]>();
  let current: Key | null = null;
  for (const [i, line] of lines.entries()) {
    if (i < start) continue;
    const m = KEY_LINE.exec(line);
    // Only the chosen STATUS line is one; a later one is text of the key it stands under.
    if (m && (m[1] !== 'STATUS' || i === start)) {
      current = m[1] as Key;
      values.set(current, m[2]?.trim() ? [m[2].trim()] : []);
    } else if (current && !/^```/.test(line.trim())) {
      values.get(current)?.push(line);
    }
  }
  const branch = listOf(values.get('BRANCH') ?? [])[0] ?? null;
  return {
    status: statusWord(values.get('STATUS')?.[0] ?? ''),
    branch,
    filesChanged: listOf(values.get('FILES_CHANGED') ?? [])
      .flatMap((l) => l.split(/,\s*/))
      .filter(Boolean),
    commits: listOf(values.get('COMMITS') ?? []),
    tasksBlocked: listOf(values.get('TASKS_BLOCKED') ?? [])
      .flatMap((l) => l.split(/,\s*/))
      .filter(Boolean),
    notes: (values.get('NOTES') ?? []).join('\n').trim(),
  };
}

/** The report as state keeps it: NOTES and every list capped (docs/limits.md). */
export function boundReport(report: ItemReport, where?: string): ItemReport {
  return {
    status: report.status,
    branch: report.branch === null ? null : capEntry(report.branch),
    filesChanged: capList(report.filesChanged, LIST_CAP, where),
    commits: capList(report.commits, LIST_CAP, where),
    tasksBlocked: capList(report.tasksBlocked, LIST_CAP, where),
    notes: capText(report.notes, LIMITS.notesChars, where),
  };
}
