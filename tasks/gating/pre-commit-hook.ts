/**
 * The git pre-commit hook that runs `work-milestone gates` on the staged change: where it goes (core.hooksPath is
 * respected), what it says, and installing or removing it without ever touching a hook someone else wrote.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.ts';
import { BadInputError } from '../lib/errors.ts';
import { findCommonDir, gitRaw } from '../lib/git.ts';

/** The line that marks a hook as ours: only a hook holding it is replaced or removed. */
export const HOOK_MARK = '# work-milestone pre-commit hook';

/** What the hook runs: node and the package's bin by absolute path (a fresh shell may lack both on PATH). */
export interface HookCommand {
  readonly node: string;
  readonly bin: string;
  /** Arguments after `gates`: the milestone and `--plan`, when given at install. */
  readonly args: readonly string[];
}

/** A word for sh, in single quotes. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The hook's text. */
export function hookText(command: HookCommand): string {
  return [
    '#!/bin/sh',
    `${HOOK_MARK}: the plan's quality gates whose files: match the staged change.`,
    '# Written by `work-milestone gates --install-hook`; `work-milestone gates --uninstall-hook` removes it.',
    '# Skip it once with `git commit --no-verify`.',
    // Agents of a run commit in worktrees that share this hook: the run's gates step judges their work instead.
    '[ -n "$WORK_MILESTONE_CHILD" ] && exit 0',
    `node=${shellQuote(command.node)}`,
    // The node that installed the hook; another on PATH when that one is gone (an upgrade moved it).
    '[ -x "$node" ] || node=node',
    `exec "$node" ${[command.bin, 'gates', ...command.args].map(shellQuote).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * Where git looks for the pre-commit hook of `repo`: core.hooksPath when set (relative to the working tree's root,
 * `~` for the home folder), else the hooks folder of the common git dir (shared by all worktrees).
 */
export async function preCommitHookPath(repo: string): Promise<string> {
  // The runner's git overrides core.hooksPath on the command line: read the value from the config files only.
  const out = await gitRaw(repo, ['config', '--show-scope', '--get-all', 'core.hooksPath']);
  const configured = out.stdout
    .split('\n')
    .map((line) => /^(\w+)\t(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[1] !== 'command')
    .map((m) => m[2] as string)
    .pop();
  if (configured) {
    const dir = configured.startsWith('~/') ? path.join(os.homedir(), configured.slice(2)) : configured;
    return path.join(path.resolve(repo, dir), 'pre-commit');
  }
  return path.join(await findCommonDir(repo), 'hooks', 'pre-commit');
}

/** Whether the file at `file` is a hook this tool wrote. */
function isOurs(file: string): boolean {
  try {
    return readFileSync(file, 'utf8').includes(HOOK_MARK);
  } catch {
    return false;
  }
}

/** Write (or rewrite) our hook; returns its path. A hook we did not write is never replaced. */
export async function installHook(repo: string, command: HookCommand): Promise<string> {
  const file = await preCommitHookPath(repo);
  if (existsSync(file) && !isOurs(file))
    throw new BadInputError(
      `${file} is a pre-commit hook work-milestone did not write; left as it is: add \`npx work-milestone gates\` to it, or remove it and run --install-hook again`,
    );
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, hookText(command));
  await chmod(file, 0o755);
  return file;
}

/** Remove our hook (`removed: false` when there is none). A hook we did not write is left alone. */
export async function uninstallHook(repo: string): Promise<{ readonly file: string; readonly removed: boolean }> {
  const file = await preCommitHookPath(repo);
  if (!existsSync(file)) return { file, removed: false };
  if (!isOurs(file))
    throw new BadInputError(`${file} is a pre-commit hook work-milestone did not write; left as it is`);
  rmSync(file);
  return { file, removed: true };
}
