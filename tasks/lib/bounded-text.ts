/**
 * Bounds on text that comes from agents (docs/limits.md): control characters removed, long texts and lists cut
 * with a marker that says how much was cut and where the whole of it is kept.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Every cap, in one place (docs/limits.md lists them). Text sizes are in characters, file tails in bytes. */
export const LIMITS = {
  /** Tail of an agent's stdout the report is parsed from (claude's one JSON result, codex's last events). */
  stdoutTailBytes: 4 * 1024 * 1024,
  /** Tail of an agent's stderr, for failure messages. */
  stderrTailBytes: 64 * 1024,
  /** NOTES as kept in state.json, relayed and put in prompts. */
  notesChars: 2048,
  /**
   * Entries of a list (FILES_CHANGED, COMMITS, TASKS_BLOCKED, git's commits and files, …) kept in state and relayed.
   */
  listEntries: 20,
  /** Characters of one list entry. */
  entryChars: 200,
  /** Characters of a whole list (its entries together). */
  listChars: 1024,
  /** Flags of one item, and characters of one flag. */
  flags: 10,
  flagChars: 300,
  /** A failure message (the item's `failure`, a session's). */
  failureChars: 1024,
  /** The `usage` object of a result, as JSON; a bigger one keeps only its top-level numbers. */
  usageChars: 512,
  /** Lines and characters of an output tail quoted in a failure message. */
  tailLines: 5,
  tailChars: 600,
  /** One value put in an agent's environment by the runner (PATH_MAX is 4096, so a path is never cut). */
  envValueChars: 4096,
  /** The relay text of all earlier waves in one prompt. */
  relayPromptChars: 64 * 1024,
  /** The previous attempt's failure in a retry's prompt. */
  previousFailureChars: 4096,
  /** Commits and files read from git per item: more are counted, not kept. */
  gitEntries: 5000,
  /** Paths of one `git status` kept in memory (a worktree's uncommitted and untracked files): more are counted. */
  statusEntries: 100_000,
} as const;

/** C0 controls but tab and newline, DEL, and C1 controls: what never reaches argv, the environment, JSON or git. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** The text without NUL and other control characters; `\r\n` and a lone `\r` become `\n`, tabs and newlines stay. */
export function stripControl(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(CONTROL, '');
}

/**
 * A single line, for a title or a message in a line of output: every control character (newlines and tabs too) and
 * every run of whitespace (line separators too) becomes one space; no space at either end.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ').trim();
}

/** The first `max` characters of `text`, never ending inside a surrogate pair. */
function headOf(text: string, max: number): string {
  const end = max > 0 && /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

/** The marker `capText` ends a cut text with: how many characters were cut, and where they are. */
const TEXT_MARKER = /… \((\d+) more characters(?:; ([^\n]*))?\)$/;

/**
 * `text` cut to `max` characters plus `… (N more characters; <where>)` when longer; `where` says where the rest is.
 * A text cut before keeps its marker (counts add up), so cutting again changes nothing: `capText(capText(t)) ===
 * capText(t)`.
 */
export function capText(text: string, max: number, where?: string): string {
  const m = TEXT_MARKER.exec(text);
  const body = m ? text.slice(0, m.index) : text;
  if (body.length <= max) return text;
  const kept = headOf(body, max);
  const more = body.length - kept.length + (m ? Number(m[1]) : 0);
  const at = m?.[2] ?? where;
  return `${kept}… (${more} more characters${at ? `; ${at}` : ''})`;
}

/**
 * `capText` of a text of which only the start was kept: `head` holds its first characters (at least `max + 1` when
 * it is longer), `total` is its whole length.
 */
export function capTextRead(head: string, total: number, max: number, where?: string): string {
  if (total <= max) return head;
  const kept = headOf(head, max);
  return `${kept}… (${total - kept.length} more characters${where ? `; ${where}` : ''})`;
}

/** One list entry cut to `max` characters (an ellipsis says it was). */
export function capEntry(text: string, max: number = LIMITS.entryChars): string {
  return text.length <= max ? text : `${headOf(text, max - 1)}…`;
}

/** How a list is cut. */
export interface ListCap {
  readonly entries: number;
  readonly entryChars: number;
  readonly totalChars: number;
}

/** The list caps of state and relay. */
export const LIST_CAP: ListCap = {
  entries: LIMITS.listEntries,
  entryChars: LIMITS.entryChars,
  totalChars: LIMITS.listChars,
};

/** The marker ending a cut list: `… (N more; <where>)`. */
export function moreMarker(count: number, where?: string): string {
  return `… (${count} more${where ? `; ${where}` : ''})`;
}

const LIST_MARKER = /^… \((\d+) more(?:; ([^\n]*))?\)$/;

/** A list without the marker a cut left at its end, and what that marker said. */
export function splitMarker(list: readonly string[]): {
  readonly entries: readonly string[];
  readonly more: number;
  readonly where?: string;
} {
  const m = LIST_MARKER.exec(list[list.length - 1] ?? '');
  if (!m) return { entries: list, more: 0 };
  return { entries: list.slice(0, -1), more: Number(m[1]), ...(m[2] ? { where: m[2] } : {}) };
}

/** How many leading entries of `list` fit the cap (each entry cut to `entryChars` first). */
function fitting(list: readonly string[], cap: ListCap): number {
  let chars = 0;
  let n = 0;
  for (const entry of list) {
    if (n >= cap.entries) break;
    chars += Math.min(entry.length, cap.entryChars);
    if (n > 0 && chars > cap.totalChars) break;
    n++;
  }
  return n;
}

/**
 * The first entries of `list` that fit `cap`, each entry cut; when some are left out, a last entry
 * `… (N more; <where>)` says how many. `total` is the length of the whole list when `list` is already a part of it.
 * A list cut before keeps its marker (counts add up), so cutting again with the same cap changes nothing.
 */
export function capList(
  list: readonly string[],
  cap: ListCap = LIST_CAP,
  where?: string,
  total = list.length,
): string[] {
  const prior = splitMarker(list);
  const entries = prior.entries;
  const n = fitting(entries, cap);
  const kept = entries.slice(0, n).map((e) => capEntry(e, cap.entryChars));
  const more = total - list.length + (entries.length - n) + prior.more;
  return more > 0 ? [...kept, moreMarker(more, prior.where ?? where)] : kept;
}

/** `a, b, c, d, e, and 3 more`: the first `shown` entries of `list` in a sentence, and how many were left out. */
export function firstOf(list: readonly string[], shown = 5): string {
  const more = list.length > shown ? `, and ${list.length - shown} more` : '';
  return `${list.slice(0, shown).join(', ')}${more}`;
}

/** How many entries of a list (cut by `capList`) fit, for lists of another shape (commits). */
export function fittingCount(list: readonly string[], cap: ListCap = LIST_CAP): number {
  return fitting(list, cap);
}

/** The last bytes of a file, decoded; `skipped` bytes before them were not read. */
export interface FileTail {
  readonly text: string;
  readonly skipped: number;
}

/**
 * The last `maxBytes` of `file` (missing = empty), read at an offset: the file is never read whole. When the file is
 * longer, the partial first line is dropped (when the tail has a newline at all) so parsers see whole lines. Anything
 * but a regular file (a named pipe an agent put in place of its exit file, a device) reads as empty: opening is
 * non-blocking, so a pipe without a writer never stops the runner.
 */
export function readTail(file: string, maxBytes: number): FileTail {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch {
    return { text: '', skipped: 0 };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { text: '', skipped: 0 };
    const size = stat.size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    let text = buf.subarray(0, got).toString('utf8');
    let skipped = start;
    if (start > 0) {
      const nl = text.indexOf('\n');
      if (nl >= 0 && nl < text.length - 1) {
        skipped += Buffer.byteLength(text.slice(0, nl + 1));
        text = text.slice(nl + 1);
      }
    }
    return { text, skipped };
  } finally {
    closeSync(fd);
  }
}
