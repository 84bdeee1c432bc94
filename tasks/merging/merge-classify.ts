/** Predict and classify the conflicts of merging an item branch into integration (docs/steps.md, "Merging"). */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { git, gitOk, gitRaw } from '../lib/git.ts';

/** The class of a merge. */
export type MergeClass =
  | { readonly kind: 'clean' }
  | { readonly kind: 'trivial' | 'medium'; readonly files: readonly string[] }
  | { readonly kind: 'heavy'; readonly files: readonly string[]; readonly reason: string };

/** Conflicted paths of merging `theirs` into HEAD, without touching the worktree (`git merge-tree --write-tree`). */
export async function predictConflicts(worktree: string, theirs: string): Promise<string[]> {
  const out = await gitRaw(worktree, ['merge-tree', '--write-tree', '--name-only', '--no-messages', 'HEAD', theirs]);
  if (out.exitCode === 0) return [];
  if (out.exitCode !== 1) throw new Error(`git merge-tree failed: ${out.stderr.trim()}`);
  return [...new Set(out.stdout.trim().split('\n').slice(1).filter(Boolean))];
}

/** Whether `rev` has an entry at `file`: by its tree, so a submodule whose commit is not here counts as there. */
async function exists(worktree: string, rev: string, file: string): Promise<boolean> {
  return gitOk(worktree, ['rev-parse', '--verify', '-q', `${rev}:${file}`]);
}

/** Whether `file` is a submodule (a commit entry, mode 160000) in `rev`. */
async function isSubmodule(worktree: string, rev: string, file: string): Promise<boolean> {
  const out = await gitRaw(worktree, ['ls-tree', '-z', rev, '--', file]);
  return out.exitCode === 0 && out.stdout.startsWith('160000 ');
}

/**
 * Lines deleted by the change from `from` to `to` in `file` (0 = only additions); Infinity for a binary file (numstat
 * `-`).
 */
async function deletedLines(worktree: string, from: string, to: string, file: string): Promise<number> {
  const out = await git(worktree, ['diff', '--numstat', '--no-renames', from, to, '--', file]);
  return out
    .split('\n')
    .filter(Boolean)
    .reduce((sum, line) => {
      const deleted = line.split('\t')[1] ?? '0';
      return sum + (deleted === '-' ? Infinity : Number(deleted) || 0);
    }, 0);
}

/**
 * Classify predicted conflicts: heavy (a path deleted or renamed on one side, a submodule moved on both, or 3+
 * files);
 * trivial when every text file only gained lines on both sides (whitespace-only is found later by merging with -X
 * ignore-all-space);
 * medium otherwise.
 */
export async function classifyConflicts(
  worktree: string,
  theirs: string,
  files: readonly string[],
): Promise<MergeClass> {
  if (files.length === 0) return { kind: 'clean' };
  if (files.length >= 3) return { kind: 'heavy', files, reason: `${files.length} files in conflict` };
  const base = await git(worktree, ['merge-base', 'HEAD', theirs]);
  let additionsOnly = true;
  for (const file of files) {
    const [inBase, inOurs, inTheirs] = await Promise.all([
      exists(worktree, base, file),
      exists(worktree, 'HEAD', file),
      exists(worktree, theirs, file),
    ]);
    // Two moves of one submodule: which commit it points at is a human's choice, not an agent's text edit.
    if (
      (inOurs && (await isSubmodule(worktree, 'HEAD', file))) ||
      (inTheirs && (await isSubmodule(worktree, theirs, file)))
    )
      return { kind: 'heavy', files, reason: `submodule ${file} was moved on both sides` };
    if (inBase && (!inOurs || !inTheirs))
      return { kind: 'heavy', files, reason: `${file} was deleted or renamed on one side` };
    if (!inBase && (!inOurs || !inTheirs)) return { kind: 'heavy', files, reason: `${file} was renamed on one side` };
    if (!inBase) {
      // Added on both sides with different content: someone has to choose (medium).
      additionsOnly = false;
      continue;
    }
    if (
      (await deletedLines(worktree, base, 'HEAD', file)) > 0 ||
      (await deletedLines(worktree, base, theirs, file)) > 0
    )
      additionsOnly = false;
  }
  return { kind: additionsOnly ? 'trivial' : 'medium', files };
}

/** Whether a text still holds conflict markers. */
export function hasConflictMarkers(text: string): boolean {
  return /^(<{7}|>{7})( |$)|^={7}$/m.test(text);
}

/**
 * What an agent left at a conflicted path: conflict markers, something git cannot stage as a file (a named pipe, a
 * device, a folder), or nothing wrong (a file without markers, a symbolic link, no file: a deletion). The file is
 * read in chunks, never whole, and never through a link: an agent may leave gigabytes, or a pipe that would block.
 */
export async function leftAtConflict(file: string): Promise<'markers' | 'not a file' | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    // Missing (a deletion) or a link: git stores a link's target, never markers.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ELOOP') return null;
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) return 'not a file';
    const buffer = Buffer.alloc(1024 * 1024);
    const decoder = new StringDecoder('utf8');
    // The start of the line a chunk ended inside: markers are whole lines, so 16 characters of it are enough.
    let carry = '';
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const text = carry + decoder.write(buffer.subarray(0, bytesRead));
      const nl = text.lastIndexOf('\n');
      if (hasConflictMarkers(text.slice(0, nl + 1))) return 'markers';
      carry = text.slice(nl + 1, nl + 17);
    }
    return hasConflictMarkers(carry + decoder.end()) ? 'markers' : null;
  } finally {
    await handle.close();
  }
}
