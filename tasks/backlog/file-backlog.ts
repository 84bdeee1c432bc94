/** The file backlog (DESIGN §3): one markdown file with YAML front matter per item, `plan/backlog/<issue>.md`. */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backlog, BacklogItem, BacklogStatus, NewBacklogItem } from './backlog.ts';
import { formatItemFile, parseItemFile, replaceStatus, type ItemFile } from './front-matter.ts';
import { DiagnosticsError } from '../lib/diagnostics.ts';
import { BadInputError, StepFailedError } from '../lib/errors.ts';

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
}

/** A backlog of `<root>/<dir>/<issue>.md` files; paths it reports are relative to `root`. */
export function createFileBacklog(root: string, dir = 'plan/backlog', options: FileBacklogOptions = {}): Backlog {
  const allocate = options.allocate ?? ((atLeast: number) => Promise.resolve(atLeast));
  const absDir = path.resolve(root, dir);
  const absPath = (issue: number): string => path.join(absDir, `${issue}.md`);
  const source = (issue: number): string => path.relative(root, absPath(issue)).split(path.sep).join('/');

  const load = async (issue: number): Promise<{ text: string; file: ItemFile } | undefined> => {
    checkIssue(issue);
    const text = await readIfExists(absPath(issue));
    return text === undefined ? undefined : { text, file: parseOrThrow(text, source(issue), issue) };
  };

  const markdownNames = async (): Promise<string[]> => {
    const names = await readdir(absDir).catch((e: unknown) => (isCode(e, 'ENOENT') ? [] : Promise.reject(e)));
    return names.filter((n) => n.endsWith('.md') && !n.startsWith('.'));
  };
  const issueNames = async (): Promise<number[]> => (await markdownNames()).filter((n) => ITEM_NAME.test(n)).map((n) => parseInt(n, 10));

  const nextFree = async (): Promise<number> => {
    const names = await markdownNames();
    // A file may claim a number other than its name (invalid, but possible): never reuse that either.
    const claimed = await Promise.all(names.map(async (n) => {
      const text = await readIfExists(path.join(absDir, n));
      const parsed = text === undefined ? undefined : parseItemFile(text);
      return Math.max(Number(ITEM_NAME.exec(n)?.[1] ?? 0), parsed?.ok ? parsed.file.data.issue : 0);
    }));
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
      const results = await Promise.allSettled(numbers.map((n) => load(n)));
      const failures: unknown[] = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      // Report every bad file at once; anything that is not a diagnostic (I/O) is rethrown as is.
      const other = failures.find((e) => !(e instanceof DiagnosticsError));
      if (other !== undefined) throw other;
      if (failures.length > 0) throw new DiagnosticsError(failures.flatMap((e) => (e instanceof DiagnosticsError ? e.diagnostics : [])));
      return results
        .flatMap((r, i) => (r.status === 'fulfilled' && r.value ? [toItem(r.value.file, source(numbers[i] ?? 0))] : []))
        .filter((item) => item.milestone !== null && String(item.milestone) === String(milestone))
        .sort((a, b) => a.issue - b.issue);
    },

    async createItem(item) {
      await mkdir(absDir, { recursive: true });
      let issue = await allocate(await nextFree());
      for (let attempt = 0; attempt < MAX_CREATE_ATTEMPTS; attempt++) {
        checkIssue(issue);
        const { title, milestone, priority = null, labels = [], dependsOn = [] } = item;
        const front = { issue, title, status: 'open', milestone, priority, groomed: true, labels: [...labels], 'depends-on': [...dependsOn] };
        const text = formatItemFile(front, item.sections);
        const file = parseOrThrow(text, source(issue), issue);
        if (await createExclusive(absPath(issue), text)) return toItem(file, source(issue));
        // Taken on disk (a concurrent create here, or a file the allocator did not know of): ask for the next one.
        issue = await allocate(issue + 1);
      }
      throw new StepFailedError(`could not find a free issue number in ${dir} after ${MAX_CREATE_ATTEMPTS} attempts`);
    },

    async setStatus(issue, status) {
      if (!STATUSES.includes(status)) throw new BadInputError(`invalid status "${String(status)}": must be one of ${STATUSES.join(', ')}`);
      const loaded = await load(issue);
      if (!loaded) throw new BadInputError(`#${issue} not found: ${source(issue)} does not exist`);
      if (loaded.file.data.status === status) return [];
      const text = replaceStatus(loaded.text, loaded.file, status);
      parseOrThrow(text, source(issue), issue);
      await writeAtomic(absPath(issue), text);
      return [source(issue)];
    },
  };
}

function toItem(file: ItemFile, source: string): BacklogItem {
  const { issue, title, status, milestone = null, priority = null, groomed = false, labels = [] } = file.data;
  const dependsOn = file.data['depends-on'] ?? file.data.depends_on ?? [];
  return { issue, title, status, milestone, priority, groomed, labels, dependsOn, body: file.body, sections: file.sections, source };
}

function parseOrThrow(text: string, file: string, issue: number): ItemFile {
  const parsed = parseItemFile(text, issue);
  if (parsed.ok) return parsed.file;
  throw new DiagnosticsError(parsed.problems.map((p) => ({ severity: 'error', file, ...p })));
}

function checkIssue(issue: number): void {
  if (!Number.isSafeInteger(issue) || issue < 1) throw new BadInputError(`invalid issue number ${issue}: must be a positive integer`);
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof Error && (e as NodeJS.ErrnoException).code === code;
}

async function readIfExists(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((e: unknown) => (isCode(e, 'ENOENT') ? undefined : Promise.reject(e)));
}

function tempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomUUID()}.tmp`);
}

/** Write a temp file in the same dir, then rename over the target: readers see the old or the new file, never half. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = tempPath(file);
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Create `file` only if absent (false when it exists): hard-link a complete temp file, so the create is atomic too. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = tempPath(file);
  await writeFile(tmp, text, { flag: 'wx' });
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    if (isCode(e, 'EEXIST')) return false;
    // File systems without hard links: fall back to an exclusive (non-atomic) create.
    if (!isCode(e, 'EPERM') && !isCode(e, 'ENOTSUP') && !isCode(e, 'ENOSYS')) throw e;
    return writeFile(file, text, { flag: 'wx' }).then(() => true, (e2: unknown) => (isCode(e2, 'EEXIST') ? false : Promise.reject(e2)));
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
