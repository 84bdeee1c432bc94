/**
 * The change between two commits as one `git diff --raw -p -U0`, for the judge (its file list) and the commit guards
 * (sizes and conflict markers). The diff is parsed as it streams: what is kept grows with the number of files, never
 * with the size of the patch (an agent may commit hundreds of MB). A diff between two shas never changes, so what
 * was read for one is handed to the other (kept by sha pair, only the last few, dropped when taken twice): one git
 * call per judged attempt, not two.
 */
import { streamGitLines } from './git-lines.ts';

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
  // Whole blob ids on the patch's `index` lines too: a file's patch is matched to its raw line by blob.
  '--full-index',
];

/** One file of a change: its path as git prints it, its status letter, its new blob and mode. */
export interface ChangedFile {
  readonly path: string;
  readonly status: string;
  readonly blob: string;
  /** The new mode (`100644`, `120000` a link, `160000` a submodule, whose "blob" is its commit). */
  readonly mode: string;
  /** The blob before the change (zeros for an added file). */
  readonly oldBlob: string;
}

/** What the judge and the commit guards need of a change, read in one pass. */
export interface Change {
  /** Every file, in git's order. */
  readonly files: readonly ChangedFile[];
  /**
   * For each file the change adds as text (`new file`, a patch with hunks), the length of its patch lines (UTF-16
   * units, newlines counted), by new blob: a new file's `-U0` patch holds every line of it. A file git shows as
   * binary, or any patch that does not read as expected, is left out (its size is asked of git).
   */
  readonly addedText: ReadonlyMap<string, number>;
  /** Files where the change adds both a `<<<<<<<` and a `>>>>>>>` conflict marker line. */
  readonly conflictMarkers: readonly string[];
}

/** How many sha pairs are kept at most: a wave's judges read and take theirs within moments. */
const KEEP = 16;

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * Changes read by sha pair, each taken at most twice. Keyed by immutable commits, so an entry is never stale; it is
 * the one table of this kind in the process (a bounded memo, not run state).
 */
const read = new Map<string, { change: Promise<Change>; uses: number }>();

/** The change from `base` to `tip` in `repo` (both shas for it to be shared; ref names are read every time). */
export function readChange(repo: string, base: string, tip: string): Promise<Change> {
  if (!SHA.test(base) || !SHA.test(tip)) return parseChange(repo, base, tip);
  const key = `${repo}\0${base}\0${tip}`;
  const known = read.get(key);
  if (known) {
    known.uses += 1;
    if (known.uses >= 2) read.delete(key);
    return known.change;
  }
  const change = parseChange(repo, base, tip);
  read.set(key, { change, uses: 1 });
  change.catch(() => read.delete(key));
  while (read.size > KEEP) read.delete(read.keys().next().value as string);
  return change;
}

/** The longest line kept whole: raw lines and headers hold paths; content lines are only measured and tested. */
const LINE_CHARS = 16 * 1024;

const NEW_FILE_INDEX = /^index 0+\.\.([0-9a-f]{40}|[0-9a-f]{64})( |$)/;
const MARKER = /^\+(<{7}|>{7})( |$)/;

/** Read and parse the diff as it streams. */
async function parseChange(repo: string, base: string, tip: string): Promise<Change> {
  const files: ChangedFile[] = [];
  const addedText = new Map<string, number>();
  const markers = new Map<string, Set<string>>();
  // Where in the output: the raw lines, a file's patch header, or its hunks.
  let where: 'raw' | 'header' | 'hunks' = 'raw';
  let file = '';
  // The new file being measured (null: not a new text file, or its patch read otherwise) and its length so far.
  let blob: string | null = null;
  let length = 0;
  const close = () => {
    if (blob && where === 'hunks') addedText.set(blob, length);
    blob = null;
    length = 0;
  };
  await streamGitLines(
    repo,
    [...ARGS, base, tip],
    (line, n) => {
      if (line.startsWith('diff --git ')) {
        close();
        where = 'header';
        file = '';
        return;
      }
      switch (where) {
        case 'raw': {
          if (!line.startsWith(':')) return;
          const tab = line.indexOf('\t');
          const [, mode = '', oldBlob = '', newBlob = '', status = ''] = line.slice(1, tab).split(' ');
          files.push({ path: line.slice(tab + 1), status, blob: newBlob, mode, oldBlob });
          return;
        }
        case 'header': {
          const index = NEW_FILE_INDEX.exec(line);
          if (index) blob = index[1] as string;
          else if (line.startsWith('+++ ')) file = line.replace(/^\+\+\+ (b\/)?/, '');
          else if (line.startsWith('@@')) where = 'hunks';
          return;
        }
        case 'hunks': {
          // With no context lines a hunk holds only `+` and `-` lines: an added line can never read as a header.
          if (line.startsWith('+')) {
            length += n;
            const mark = MARKER.exec(line);
            if (mark) markers.set(file, (markers.get(file) ?? new Set()).add((mark[1] as string)[0] as string));
          } else if (!line.startsWith('@@') && !line.startsWith('\\') && n !== 0) blob = null;
          return;
        }
        default:
          return where satisfies never;
      }
    },
    { lineChars: LINE_CHARS },
  );
  close();
  const conflictMarkers = [...markers].filter(([, marks]) => marks.size === 2).map(([f]) => f);
  return { files, addedText, conflictMarkers };
}
