/**
 * The file backlog (docs/plan-format.md, "Backlog items"): one markdown file with YAML front matter per item,
 * `plan/backlog/<issue>.md`.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { markerLine, type Backlog, type BacklogItem, type BacklogStatus } from './backlog.ts';
import { formatItemFile, parseItemFile, replaceStatus, type ItemFile } from './front-matter.ts';
import { createFileExclusive, writeFileAtomic } from '../lib/atomic-file.ts';
import { DiagnosticsError, settledValues } from '../lib/diagnostics.ts';
import { BadInputError, StepFailedError } from '../lib/errors.ts';
import { isCode, isInside, resolveExisting } from '../lib/fs-paths.ts';
import { fitTitle } from '../lib/plan/title.ts';

const ITEM_NAME = /^([1-9][0-9]*)\.md$/;
const STATUSES: readonly BacklogStatus[] = ['open', 'in-progress', 'done', 'blocked'];
const MAX_CREATE_ATTEMPTS = 1000;

/** Options of a file backlog. */
export interface FileBacklogOptions {
  /**
   * Hands out the number of a new item, at least `atLeast` (the next free number in this folder): lets backlogs in
   * several worktrees of one repository never pick the same number. Without it, the next free number here is taken.
   */
  readonly allocate?: (atLeast: number) => Promise<number>;
  /**
   * Item files already parsed, by issue and text: one run reads every item several times (validate, fetch, land) and
   * a YAML parse costs far more than the read. Shared by the backlogs of one run; a changed file is parsed again.
   */
  readonly parsed?: Map<string, ItemFile>;
}

/** A backlog of `<root>/<dir>/<issue>.md` files; paths it reports are relative to `root`. */
export function createFileBacklog(root: string, dir = 'plan/backlog', options: FileBacklogOptions = {}): Backlog {
  const allocate = options.allocate ?? ((atLeast: number) => Promise.resolve(atLeast));
  const absDir = path.resolve(root, dir);
  const absPath = (issue: number): string => path.join(absDir, `${issue}.md`);
  const source = (issue: number): string => path.relative(root, absPath(issue)).split(path.sep).join('/');

  const files = itemFiles(path.resolve(root));

  const load = async (issue: number): Promise<{ text: string; file: ItemFile } | undefined> => {
    checkIssue(issue);
    const text = await files.read(absPath(issue), source(issue));
    return text === undefined ? undefined : { text, file: parse(text, issue) };
  };
  const parse = (text: string, issue: number): ItemFile => {
    const key = `${issue}\n${text}`;
    const known = options.parsed?.get(key);
    if (known) return known;
    const file = parseOrThrow(text, source(issue), issue);
    options.parsed?.set(key, file);
    return file;
  };

  const markdownNames = async (): Promise<string[]> => {
    const names = await readdir(absDir).catch((e: unknown) => (isCode(e, 'ENOENT') ? [] : Promise.reject(e)));
    return names.filter((n) => n.endsWith('.md') && !n.startsWith('.'));
  };
  const issueNames = async (): Promise<number[]> =>
    (await markdownNames()).filter((n) => ITEM_NAME.test(n)).map((n) => parseInt(n, 10));

  const nextFree = async (): Promise<number> => {
    const names = await markdownNames();
    // A file may claim a number other than its name (invalid, but possible): never reuse that either.
    const claimed = await Promise.all(
      names.map(async (n) => {
        // Only regular files are read: a symlink or a pipe here claims no number (and is reported when read as an
        // item).
        const text = await files
          .read(path.join(absDir, n), n)
          .catch((e: unknown) => (e instanceof DiagnosticsError ? undefined : Promise.reject(e)));
        const parsed = text === undefined ? undefined : parseItemFile(text);
        return Math.max(Number(ITEM_NAME.exec(n)?.[1] ?? 0), parsed?.ok ? parsed.file.data.issue : 0);
      }),
    );
    return 1 + Math.max(0, ...claimed);
  };

  return {
    kind: 'file',

    async readItem(issue) {
      const loaded = await load(issue);
      return loaded && toItem(loaded.file, source(issue));
    },

    async listItems(milestone) {
      const numbers = await issueNames();
      // Every bad file reported at once; anything that is not a diagnostic (I/O) is rethrown as is.
      const loaded = settledValues(await Promise.allSettled(numbers.map((n) => load(n))));
      return loaded
        .flatMap((l, i) => (l ? [toItem(l.file, source(numbers[i] ?? 0))] : []))
        .filter((item) => item.milestone !== null && String(item.milestone) === String(milestone))
        .sort((a, b) => a.issue - b.issue);
    },

    async createItem(item) {
      const marker = item.marker === undefined ? undefined : markerLine(item.marker);
      if (marker !== undefined) {
        const found = (await this.listItems(item.milestone)).find((i) => i.body.includes(marker));
        if (found) return found;
      }
      // Before mkdir: a symlinked `plan` leading outside would have the folder made out there.
      await files.refuseOutside(absDir, dir);
      await mkdir(absDir, { recursive: true });
      let issue = await allocate(await nextFree());
      // The runner's own titles (`Resolve merge conflict: <title> vs <title>`) may be longer than a title may be.
      const title = fitTitle(item.title);
      for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
        checkIssue(issue);
        const { milestone, priority = null, labels = [], dependsOn = [] } = item;
        const front = {
          issue,
          title,
          status: 'open',
          milestone,
          priority,
          groomed: true,
          labels: [...labels],
          'depends-on': [...dependsOn],
        };
        const text = formatItemFile(front, item.sections) + (marker === undefined ? '' : `\n${marker}\n`);
        const file = parseOrThrow(text, source(issue), issue);
        if (await createFileExclusive(absPath(issue), text)) return toItem(file, source(issue));
        // Taken on disk (a concurrent create here, or a file the allocator did not know of): ask for the next one.
        issue = await allocate(issue + 1);
      }
      throw new StepFailedError(`could not find a free issue number in ${dir} after ${MAX_CREATE_ATTEMPTS} attempts`);
    },

    async setStatus(issue, status) {
      if (!STATUSES.includes(status))
        throw new BadInputError(`invalid status "${String(status)}": must be one of ${STATUSES.join(', ')}`);
      const loaded = await load(issue);
      if (!loaded) throw new BadInputError(`#${issue} not found: ${source(issue)} does not exist`);
      if (loaded.file.data.status === status) return [];
      const text = replaceStatus(loaded.text, loaded.file, status);
      parse(text, issue);
      // Read as a regular file a moment ago; refuse if it became a symlink since (rename would replace the link).
      await files.read(absPath(issue), source(issue));
      // Committed right after (landing) or by the user: not synced (AtomicWriteOptions).
      await writeFileAtomic(absPath(issue), text, { sync: false });
      return [source(issue)];
    },

    // The file backlog has no comments: the landing commit that marks the item done is its record.
    async closeItem(issue) {
      return this.setStatus(issue, 'done');
    },

    // A milestone of files is nothing to close: it is complete when none of its items is open.
    async closeMilestone(milestone) {
      return (await this.listItems(milestone)).every((i) => i.status === 'done');
    },
  };
}

function toItem(file: ItemFile, source: string): BacklogItem {
  const { issue, title, status, milestone = null, priority = null, groomed = false, labels = [] } = file.data;
  const dependsOn = file.data['depends-on'] ?? file.data.depends_on ?? [];
  return {
    issue,
    title,
    status,
    milestone,
    priority,
    groomed,
    labels,
    dependsOn,
    body: file.body,
    sections: file.sections,
    source,
  };
}

function parseOrThrow(text: string, file: string, issue: number): ItemFile {
  const parsed = parseItemFile(text, issue);
  if (parsed.ok) return parsed.file;
  throw new DiagnosticsError(parsed.problems.map((p) => ({ severity: 'error', file, ...p })));
}

function checkIssue(issue: number): void {
  if (!Number.isSafeInteger(issue) || issue < 1)
    throw new BadInputError(`invalid issue number ${issue}: must be a positive integer`);
}

/** Reading item files, and the check before writing new ones. */
interface ItemFiles {
  /**
   * The text of the item file `abs` (`name` in messages); undefined when absent; a DiagnosticsError when it is no
   * regular file of the repository.
   */
  read(abs: string, name: string): Promise<string | undefined>;
  /** Refuse a backlog folder that leads outside the repository through a symlink: new items would be written there. */
  refuseOutside(absDir: string, dir: string): Promise<void>;
}

/**
 * Item files of the repository (or worktree) at `root`, read and written only as regular files inside it: a backlog
 * file committed as a symlink to a file outside the repository would otherwise have its target read into prompts,
 * and its content written into the repository (and pushed) when the status is set.
 */
function itemFiles(root: string): ItemFiles {
  let realRoot: Promise<string> | undefined;
  const top = (): Promise<string> => (realRoot ??= realpath(root).catch(() => root));
  const problem = (file: string, message: string): DiagnosticsError =>
    new DiagnosticsError([{ severity: 'error', file, line: 1, col: 1, message }]);

  /**
   * The symlinked folder between `root` and `abs` that leads outside the repository, if any (`plan/backlog`, its
   * target).
   */
  const escapingFolder = async (abs: string): Promise<{ name: string; target: string } | undefined> => {
    if (!isInside(root, abs) || isInside(await top(), await resolveExisting(path.dirname(abs)))) return undefined;
    const segments = path.relative(root, path.dirname(abs)).split(path.sep).filter(Boolean);
    for (let i = 1; i <= segments.length; i++) {
      const folder = path.join(root, ...segments.slice(0, i));
      const info = await lstat(folder).catch(() => undefined);
      if (info?.isSymbolicLink()) return { name: segments.slice(0, i).join('/'), target: await readlink(folder) };
    }
    return { name: segments.join('/'), target: await resolveExisting(path.dirname(abs)) };
  };

  return {
    async read(abs: string, name: string): Promise<string | undefined> {
      const info = await lstat(abs).catch((e: unknown) =>
        isCode(e, 'ENOENT', 'ENOTDIR') ? undefined : Promise.reject(e),
      );
      if (!info) return undefined;
      const folder = await escapingFolder(abs);
      if (folder)
        throw problem(
          name,
          `${name} is reached through ${folder.name}, a symlink to ${folder.target}, outside the repository; a backlog item must be a regular file in the repository`,
        );
      if (info.isSymbolicLink()) {
        const target = await readlink(abs);
        const outside = !isInside(await top(), await resolveExisting(path.resolve(path.dirname(abs), target)));
        throw problem(
          name,
          `${name} is a symlink to ${target}${outside ? ', outside the repository' : ''}; a backlog item must be a regular file${outside ? ' in the repository' : ' (its status is rewritten in place)'}`,
        );
      }
      if (!info.isFile()) throw problem(name, `${name} is not a regular file; a backlog item must be one`);
      // O_NOFOLLOW: a file swapped for a symlink since lstat is refused, not followed; O_NONBLOCK: a pipe never hangs
      // the read.
      const handle = await open(
        abs,
        constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
      ).catch((e: unknown) =>
        isCode(e, 'ELOOP')
          ? Promise.reject(problem(name, `${name} is a symlink; a backlog item must be a regular file`))
          : Promise.reject(e),
      );
      try {
        if (!(await handle.stat()).isFile())
          throw problem(name, `${name} is not a regular file; a backlog item must be one`);
        return await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    },

    async refuseOutside(absDir: string, dir: string): Promise<void> {
      const folder = await escapingFolder(path.join(absDir, 'item'));
      if (folder)
        throw new BadInputError(
          `backlog folder ${dir} is reached through ${folder.name}, a symlink to ${folder.target}, outside the repository; new items are not written there`,
        );
    },
  };
}
