/**
 * Commits read from git's loose object files (zlib, `commit <size>\0` + the commit text), without spawning git: a
 * commit the runner has just made is one. Objects never change, so what a file says is git's answer; a packed or
 * missing object says "unknown" and the caller asks git (docs/performance.md, "Git calls").
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { readRegularFileBytesSync } from './regular-file.ts';

/** Whether `sha` is a loose object of the repository (a commit just made is one); false: it may be packed, ask git. */
export function looseObjectExists(commonDir: string, sha: string): boolean {
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(sha)) return false;
  return existsSync(path.join(commonDir, 'objects', sha.slice(0, 2), sha.slice(2)));
}

/** A commit's parents and subject (its message's first paragraph on one line, as `git log --format=%s`). */
export interface LooseCommit {
  readonly parents: readonly string[];
  readonly subject: string;
}

/**
 * Commit `sha` from its loose object file (a commit git has just made is one); null when it is not a loose commit
 * (packed, another type, unreadable): ask git. Objects never change, so the answer is git's.
 */
export function looseCommit(commonDir: string, sha: string): LooseCommit | null {
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(sha)) return null;
  try {
    const text = inflateSync(
      readRegularFileBytesSync(path.join(commonDir, 'objects', sha.slice(0, 2), sha.slice(2))),
    ).toString('utf8');
    const body = text.indexOf('\0');
    if (body < 0 || !text.startsWith('commit ')) return null;
    const end = text.indexOf('\n\n', body);
    const header = text.slice(body + 1, end < 0 ? undefined : end);
    // A message in another encoding is re-encoded by git: ask git.
    if (/^encoding /m.test(header)) return null;
    const message = end < 0 ? '' : text.slice(end + 2);
    return {
      parents: [...header.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1] as string),
      subject: subjectOf(message),
    };
  } catch {
    return null;
  }
}

/**
 * A message's subject as git prints `%s`: blank lines skipped, the first paragraph's lines right-trimmed, joined by
 * spaces.
 */
function subjectOf(message: string): string {
  const blank = /^[ \t\n\v\f\r]*$/;
  const lines = message.split('\n');
  let at = 0;
  while (at < lines.length && blank.test(lines[at] as string)) at++;
  const kept: string[] = [];
  for (; at < lines.length && !blank.test(lines[at] as string); at++)
    kept.push((lines[at] as string).replace(/[ \t\n\v\f\r]+$/, ''));
  return kept.join(' ');
}

/** The parents of a loose commit (`looseCommit`); null: ask git. */
export function looseCommitParents(commonDir: string, sha: string): readonly string[] | null {
  return looseCommit(commonDir, sha)?.parents ?? null;
}

/** One commit of a log read from loose objects. */
export interface LooseLogEntry {
  readonly sha: string;
  readonly subject: string;
}

/**
 * The first-parent chain from `head` down to (not including) `stop`, newest first, from loose objects; null when a
 * commit on the way is not loose, or `stop` is not reached within `limit` commits (ask git).
 */
export function looseFirstParentLog(
  commonDir: string,
  head: string,
  stop: string,
  limit: number,
): LooseLogEntry[] | null {
  return walkLoose(commonDir, head, stop, limit, false);
}

/**
 * `git log stop..head` (newest first) from loose objects when the commits since `stop` form one line (each has
 * exactly one parent) that reaches `stop` within `limit` commits: that line is then exactly stop..head. null: a merge
 * on the way, a commit that is not loose, or a longer history (ask git).
 */
export function looseLinearLog(commonDir: string, head: string, stop: string, limit: number): LooseLogEntry[] | null {
  return walkLoose(commonDir, head, stop, limit, true);
}

/** First parents from `head` down to `stop`; `linear`: null at a commit with other than one parent. */
function walkLoose(
  commonDir: string,
  head: string,
  stop: string,
  limit: number,
  linear: boolean,
): LooseLogEntry[] | null {
  const out: LooseLogEntry[] = [];
  let at: string | undefined = head;
  while (at !== stop) {
    if (!at || out.length >= limit) return null;
    const commit = looseCommit(commonDir, at);
    if (!commit || (linear && commit.parents.length !== 1)) return null;
    out.push({ sha: at, subject: commit.subject });
    at = commit.parents[0];
  }
  return out;
}

/**
 * Whether `target` is reachable from `from`, from loose objects, for a `target` that is `stop` or was made after it
 * (a commit the runner made once its branch started at `stop`): such a commit is never behind `stop`, so the
 * history behind `stop` is not walked. null when a commit on the way is not loose or more than `limit` are (ask git).
 */
export function looseReachable(
  commonDir: string,
  from: string,
  target: string,
  stop: string,
  limit: number,
): boolean | null {
  const seen = new Set<string>();
  const queue = [from];
  for (let at = queue.pop(); at !== undefined; at = queue.pop()) {
    if (at === target) return true;
    if (at === stop || seen.has(at)) continue;
    seen.add(at);
    const commit = seen.size <= limit ? looseCommit(commonDir, at) : null;
    if (!commit) return null;
    queue.push(...commit.parents);
  }
  return false;
}

/**
 * Whether every sha of `shas` is on the first-parent chain of `head` within `steps` commits, read from loose
 * objects; false: not found that way (git is asked).
 */
export function onFirstParentChain(commonDir: string, head: string, shas: readonly string[], steps: number): boolean {
  const wanted = new Set(shas);
  let at: string | undefined = head;
  for (let i = 0; at && i <= steps; i++) {
    wanted.delete(at);
    if (wanted.size === 0) return true;
    at = looseCommitParents(commonDir, at)?.[0];
  }
  return wanted.size === 0;
}
