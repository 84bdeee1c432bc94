/**
 * What agents changed in the repository's git setup: hooks and config files make git run programs (the user's git;
 * the runner's own git runs neither hooks nor fsmonitor). Compared with a baseline kept in the state dir, which moves
 * on after each check so each change is reported once.
 */
import { readJsonRecord, writeFileAtomic } from '../lib/atomic-file.ts';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, opendirSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { gitRaw } from '../lib/git.ts';
import { hashRegularFileSync, readRegularFileSync } from '../lib/regular-file.ts';

/** The baseline's file in the milestone's state dir. */
export const GIT_SETUP_FILE = 'git-setup.json';

/**
 * A config file: its keys with hashes of their values (values are not copied: they may hold tokens), or unreadable;
 * `stat` (inode, size, change and modification times in ns) says when it can be taken over without reading it again.
 */
export type ConfigFacts = (
  { readonly keys: Readonly<Record<string, readonly string[]>> } | { readonly unreadable: string }
) & { readonly stat?: string };

/** The git setup of a repository at one moment. */
export interface GitSetup {
  /** Files under `<common dir>/hooks/` (relative, `/`-separated) → hash of content and executable bit. */
  readonly hooks: Readonly<Record<string, string>>;
  /** The stat key (`statKey`) each hook had when it was hashed: an unchanged one is not read again. */
  readonly hookStats?: Readonly<Record<string, string>>;
  /**
   * Existing config files, relative to the common dir: `config`, `config.worktree`, `worktrees/<name>/config.worktree`.
   */
  readonly configs: Readonly<Record<string, ConfigFacts>>;
}

/** Keys that make git run a program or change what it runs, named at a first check (when there is nothing to diff). */
const RUNS_PROGRAMS =
  /^(core\.(fsmonitor|hookspath|sshcommand|editor|pager|askpass|attributesfile)|sequence\.editor|diff\.external|diff\..+\.(textconv|command)|filter\..+\.(clean|smudge|process)|merge\..+\.driver|include\.|includeif\.|credential\.|gpg\.|alias\.|uploadpack\.|remote\..+\.(uploadpack|receivepack|vcs))/;

/** Kernel file times are coarse (one clock tick): a write just after `since` may carry a slightly earlier time. */
const MTIME_SLACK_MS = 100;

/** A short hash of a config value or a file: compared, never shown (a value may hold a token). */
export const hash = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/**
 * Entries under the hooks folder looked at: git runs only `hooks/<name>`, and an agent that fills the folder with
 * millions of files (or nests folders that deep) must not make every judging walk them all.
 */
export const MAX_HOOK_FILES = 1000;

/** What stands for the entries past MAX_HOOK_FILES, which are neither listed nor counted. */
const MORE_HOOK_FILES = `(more than ${MAX_HOOK_FILES} entries)`;

/** The hooks git runs (githooks(5)): always looked at, however many other files the folder holds. */
const HOOK_NAMES: readonly string[] = [
  'applypatch-msg',
  'pre-applypatch',
  'post-applypatch',
  'pre-commit',
  'pre-merge-commit',
  'prepare-commit-msg',
  'commit-msg',
  'post-commit',
  'pre-rebase',
  'post-checkout',
  'post-merge',
  'pre-push',
  'pre-receive',
  'update',
  'proc-receive',
  'post-receive',
  'post-update',
  'reference-transaction',
  'push-to-checkout',
  'pre-auto-gc',
  'post-rewrite',
  'sendemail-validate',
  'fsmonitor-watchman',
  'p4-changelist',
  'p4-prepare-changelist',
  'p4-post-changelist',
  'p4-pre-submit',
  'post-index-change',
];

/** Lines about hooks in one report; the rest are counted. */
const MAX_HOOK_LINES = 10;

/** A hook larger than this is told apart by its size and times, not read: a hook is a script of a few KiB. */
const MAX_HASHED_HOOK_BYTES = 16 * 1024 * 1024;

/**
 * Files under `dir`, relative, `/`-separated, in order (symlinks are files: their target is read): at most `max`
 * entries (files and folders) are looked at, and `more` says there were others (the walk stops there).
 */
function filesUnder(dir: string, max: number): { files: string[]; more: boolean } {
  const files: string[] = [];
  let budget = max;
  let more = false;
  const walk = (at: string, prefix: string): void => {
    const entries: string[] = [];
    try {
      // Read entry by entry: a folder of millions is not listed whole.
      const folder = opendirSync(at);
      try {
        for (let e = folder.readSync(); e !== null && entries.length <= budget; e = folder.readSync())
          entries.push(e.name);
      } finally {
        folder.closeSync();
      }
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      if (budget-- <= 0) return void (more = true);
      const rel = prefix ? `${prefix}/${name}` : name;
      const full = path.join(at, name);
      if (lstatSync(full, { throwIfNoEntry: false })?.isDirectory()) walk(full, rel);
      else files.push(rel);
    }
  };
  walk(dir, '');
  return { files, more };
}

function hookFingerprint(file: string): string {
  try {
    const st = statSync(file);
    // Its inode, size and times: a change time no one can set back.
    if (st.isFile() && st.size > MAX_HASHED_HOOK_BYTES) return `large file ${statKey(file) ?? ''}`;
    // Read in chunks and never from a pipe: a hook is a file an agent can replace with anything.
    const { sha256, mode } = hashRegularFileSync(file);
    return `${sha256.slice(0, 16)}${mode & 0o111 ? ' x' : ''}`;
  } catch {
    return 'unreadable';
  }
}

/** Config files that exist, relative to the common dir. */
function configFiles(commonDir: string): string[] {
  const worktrees = existsSync(path.join(commonDir, 'worktrees'))
    ? readdirSync(path.join(commonDir, 'worktrees')).sort()
    : [];
  return ['config', 'config.worktree', ...worktrees.map((w) => `worktrees/${w}/config.worktree`)].filter((f) =>
    existsSync(path.join(commonDir, f)),
  );
}

async function readConfig(commonDir: string, rel: string): Promise<ConfigFacts> {
  const file = path.join(commonDir, rel);
  // GIT_DIR elsewhere: git reads only this file, and a broken repository config does not stop it.
  const out = await gitRaw(commonDir, ['config', '--file', file, '--list', '--null'], {
    timeoutMs: 60_000,
    env: { GIT_DIR: path.join(commonDir, 'no-such-git-dir') },
  });
  if (out.exitCode !== 0) {
    let content = '';
    try {
      content = readRegularFileSync(file);
    } catch {
      // gone meanwhile
    }
    return { unreadable: hash(content) };
  }
  const keys: Record<string, string[]> = {};
  for (const entry of out.stdout.split('\0').filter(Boolean)) {
    const nl = entry.indexOf('\n');
    const key = nl < 0 ? entry : entry.slice(0, nl);
    (keys[key] ??= []).push(nl < 0 ? '(no value)' : hash(entry.slice(nl + 1)));
  }
  for (const values of Object.values(keys)) values.sort();
  return { keys };
}

/** What changes whenever a file's content does: its inode, size and change time (which no one can set back). */
export function statKey(file: string): string | null {
  const st = statSync(file, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.ctimeNs}:${st.mtimeNs}` : null;
}

/**
 * The hooks and config files of the repository whose common dir is `commonDir`. A config file whose stat is the one
 * recorded in `previous` is taken from there: no git call for the config nobody touched (the usual case).
 */
export async function snapshotGitSetup(commonDir: string, previous?: GitSetup | null): Promise<GitSetup> {
  const hooksDir = path.join(commonDir, 'hooks');
  const hooks: Record<string, string> = {};
  const hookStats: Record<string, string> = {};
  const { files, more } = filesUnder(hooksDir, MAX_HOOK_FILES);
  const named = HOOK_NAMES.filter((n) => lstatSync(path.join(hooksDir, n), { throwIfNoEntry: false }) !== undefined);
  for (const f of [...new Set([...named, ...files])].sort()) {
    const full = path.join(hooksDir, f);
    const stat = statKey(full);
    const known = previous?.hooks[f];
    // Unchanged since it was hashed (a write or a replacement changes the stat): not read again.
    hooks[f] =
      stat !== null && known !== undefined && previous?.hookStats?.[f] === stat ? known : hookFingerprint(full);
    if (stat !== null) hookStats[f] = stat;
  }
  if (more) hooks[MORE_HOOK_FILES] = 'yes';
  const configs: Record<string, ConfigFacts> = {};
  for (const f of configFiles(commonDir)) {
    const stat = statKey(path.join(commonDir, f));
    const known = previous?.configs[f];
    configs[f] =
      stat !== null && known?.stat === stat ? known : { ...(await readConfig(commonDir, f)), stat: stat ?? undefined };
  }
  return { hooks, hookStats, configs };
}

/** How a config file is named in a message. */
function configLabel(rel: string): string {
  const worktree = /^worktrees\/(.+)\/config\.worktree$/.exec(rel);
  if (worktree) return `the config of worktree ${worktree[1]}`;
  return rel === 'config' ? 'the repository config' : `the repository ${rel}`;
}

function listKeys(keys: readonly string[], max = 8): string {
  return keys.length > max ? `${keys.slice(0, max).join(', ')} and ${keys.length - max} more` : keys.join(', ');
}

const sameValues = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Messages for what changed between two snapshots; `gitDir` names the common dir in them (`.git`). */
export function diffGitSetup(before: GitSetup, after: GitSetup, gitDir = '.git'): string[] {
  const out: string[] = [];
  const names = [...new Set([...Object.keys(before.hooks), ...Object.keys(after.hooks)])].sort();
  const hookLines: string[] = [];
  // The hooks git runs first: a flood of other files must not push them out of the lines kept.
  for (const name of [
    ...names.filter((n) => HOOK_NAMES.includes(n)),
    ...names.filter((n) => !HOOK_NAMES.includes(n)),
  ]) {
    const was = before.hooks[name];
    const now = after.hooks[name];
    if (was === now) continue;
    if (now === undefined) hookLines.push(`removed ${gitDir}/hooks/${name}`);
    else
      hookLines.push(
        `${was === undefined ? 'added' : 'changed'} ${gitDir}/hooks/${name} (the runner never runs hooks)`,
      );
  }
  out.push(...hookLines.slice(0, MAX_HOOK_LINES));
  if (hookLines.length > MAX_HOOK_LINES)
    out.push(`and ${hookLines.length - MAX_HOOK_LINES} more changes under ${gitDir}/hooks`);
  const files = [...new Set([...Object.keys(before.configs), ...Object.keys(after.configs)])].sort();
  for (const file of files) {
    const was = before.configs[file];
    const now = after.configs[file];
    const label = configLabel(file);
    if (now === undefined) {
      // A worktree's folder goes when the runner removes the worktree; that is not an agent's doing.
      if (!file.startsWith('worktrees/')) out.push(`removed ${label}`);
      continue;
    }
    if ('unreadable' in now) {
      if (!was || !('unreadable' in was) || was.unreadable !== now.unreadable)
        out.push(`changed ${label}, which git cannot read now`);
      continue;
    }
    const wasKeys = was && 'keys' in was ? was.keys : {};
    const keys = [...new Set([...Object.keys(wasKeys), ...Object.keys(now.keys)])]
      .sort()
      .filter((k) => !sameValues(wasKeys[k], now.keys[k]));
    if (keys.length) out.push(`changed ${label}: ${listKeys(keys)}`);
  }
  return out;
}

/** Messages for hooks and config files modified at or after `sinceMs`, when there is no earlier snapshot to diff. */
function changedSince(commonDir: string, now: GitSetup, sinceMs: number, gitDir: string): string[] {
  const modified = (rel: string) =>
    (statSync(path.join(commonDir, rel), { throwIfNoEntry: false })?.mtimeMs ?? 0) >= sinceMs - MTIME_SLACK_MS;
  const out: string[] = [];
  for (const name of Object.keys(now.hooks).sort()) {
    if (modified(`hooks/${name}`)) out.push(`changed ${gitDir}/hooks/${name} (the runner never runs hooks)`);
  }
  for (const [file, facts] of Object.entries(now.configs)) {
    if (!modified(file)) continue;
    const risky = 'keys' in facts ? Object.keys(facts.keys).filter((k) => RUNS_PROGRAMS.test(k)) : [];
    out.push(`changed ${configLabel(file)} while the agent ran${risky.length ? `; it sets ${listKeys(risky)}` : ''}`);
  }
  return out;
}

const readBaseline = (file: string) => readJsonRecord<GitSetup>(file, ['hooks', 'configs']);

async function writeBaseline(file: string, setup: GitSetup): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  // Atomic with a temp file of its own: two items of a wave may be judged at the same moment in one runner.
  await writeFileAtomic(file, `${JSON.stringify(setup, null, 2)}\n`);
}

/**
 * Where a running command keeps the baseline once read or taken: an agent that removes or rewrites the file meanwhile
 * cannot make its own hook changes vanish from the reports.
 */
export interface HeldGitSetup {
  gitSetup: GitSetup | null;
}

/** Take the baseline when there is none yet: before the first agent starts, so its changes can be diffed by key. */
export async function recordGitSetup(commonDir: string, stateDir: string, held?: HeldGitSetup): Promise<void> {
  const file = path.join(stateDir, GIT_SETUP_FILE);
  const found = held?.gitSetup ?? (await readBaseline(file));
  const setup = found ?? (await snapshotGitSetup(commonDir));
  if (!found) await writeBaseline(file, setup);
  if (held) held.gitSetup = setup;
}

/**
 * What changed in hooks and config files since the last check; the baseline then moves on. Without a baseline
 * (none was recorded before the agents started), files modified since `sinceMs` are reported instead.
 */
export async function checkGitSetup(
  commonDir: string,
  stateDir: string,
  sinceMs: number,
  held?: HeldGitSetup,
): Promise<string[]> {
  const file = path.join(stateDir, GIT_SETUP_FILE);
  const gitDir = path.basename(commonDir);
  const onDisk = await readBaseline(file);
  // What this command holds wins over the file: the file is the agents' to change too.
  const before = held?.gitSetup ?? onDisk;
  const now = await snapshotGitSetup(commonDir, before);
  const changes = before ? diffGitSetup(before, now, gitDir) : changedSince(commonDir, now, sinceMs, gitDir);
  const removed = before !== null && onDisk === null;
  if (removed) changes.push(`removed ${file} (the runner's record of the hooks and config; written again)`);
  if (held) held.gitSetup = now;
  // Unchanged (the usual case): nothing to write.
  if (!before || removed || JSON.stringify(before) !== JSON.stringify(now)) await writeBaseline(file, now);
  return changes;
}
