/**
 * The change between two commits as one `git diff --raw -p -U0`, for the judge (its file list) and the commit guards
 * (sizes and conflict markers). A diff between two shas never changes, so the text read for one is handed to the
 * other (kept by sha pair, only the last few, dropped when taken twice): one git call per judged attempt, not two.
 */
import { git } from './git.ts';

/** Raw lines (`:<modes> <old> <new> <status>\t<path>`) then the patch; no diff program of the repository runs. */
const ARGS = [
  'diff',
  '--raw',
  '--no-abbrev',
  '-p',
  '-U0',
  '--no-renames',
  '--no-textconv',
  '--no-ext-diff',
  // Whole blob ids on the patch's `index` lines too: `addedTextLength` finds a file's patch by its blob.
  '--full-index',
];

/** How many sha pairs are kept at most: a wave's judges read and take theirs within moments. */
const KEEP = 16;

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * Diffs read by sha pair, each taken at most twice. Keyed by immutable commits, so an entry is never stale; it is
 * the one table of this kind in the process (a bounded memo, not run state).
 */
const read = new Map<string, { text: Promise<string>; uses: number }>();

/** The change from `base` to `tip` in `repo` (both shas for it to be shared; ref names are read every time). */
export function readChange(repo: string, base: string, tip: string): Promise<string> {
  if (!SHA.test(base) || !SHA.test(tip)) return git(repo, [...ARGS, base, tip]);
  const key = `${repo}\0${base}\0${tip}`;
  const known = read.get(key);
  if (known) {
    known.uses += 1;
    if (known.uses >= 2) read.delete(key);
    return known.text;
  }
  const text = git(repo, [...ARGS, base, tip]);
  read.set(key, { text, uses: 1 });
  text.catch(() => read.delete(key));
  while (read.size > KEEP) read.delete(read.keys().next().value as string);
  return text;
}

/** Every file of a `readChange` text, with its status letter and new blob. */
export function changedFiles(change: string): Array<{ path: string; status: string; blob: string }> {
  const out: Array<{ path: string; status: string; blob: string }> = [];
  for (const line of change.split('\n')) {
    if (!line.startsWith(':')) break;
    const tab = line.indexOf('\t');
    const [, , , blob = '', status = ''] = line.slice(1, tab).split(' ');
    out.push({ path: line.slice(tab + 1), status, blob });
  }
  return out;
}

/**
 * For each file the change adds as text (`new file`, a patch with hunks), the length of its patch lines (UTF-16 units,
 * newlines counted), by new blob: a new file's `-U0` patch holds every line of it. A file git shows as binary, or
 * any patch that does not read as expected, is left out (its size is asked of git).
 */
export function addedTextLength(change: string): Map<string, number> {
  const out = new Map<string, number>();
  let blob: string | null = null;
  let inHunks = false;
  let length = 0;
  const close = () => {
    if (blob && inHunks) out.set(blob, length);
    blob = null;
    inHunks = false;
    length = 0;
  };
  for (const line of change.split('\n')) {
    if (line.startsWith('diff --git ')) {
      close();
      continue;
    }
    if (inHunks) {
      if (line.startsWith('+')) length += line.length;
      else if (!line.startsWith('@@') && !line.startsWith('\\') && line !== '') blob = null;
      continue;
    }
    const index = /^index 0+\.\.([0-9a-f]{40}|[0-9a-f]{64})( |$)/.exec(line);
    if (index) blob = index[1] as string;
    else if (line.startsWith('@@') && blob) inHunks = true;
  }
  close();
  return out;
}
