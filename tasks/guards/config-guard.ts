/**
 * Git config that makes the runner's own merges and checkouts run a program: a filter (`smudge` writes what a
 * checkout puts in the worktree, `clean` what git compares it with), a merge driver, an attributes file that assigns
 * them; and the repository's own attributes file, `info/attributes`, which can also make git merge differently
 * without any program (`merge=union`). An agent can set one (it runs as the user); the runner's next merge would then
 * run it, and the gates could check files that are not the commits' (a smudge filter that "fixes" a file on checkout,
 * a clean filter that hides it from `git status`). Likewise where origin is: an agent that points origin at a fork
 * of its own would have the runner bring that fork's `main` in and land it. What these keys hold when the milestone
 * starts is trusted; a new value stops the runner before its next merge, gate run or landing, unless `--adopt` keeps
 * it (docs/guarantees.md, 7).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Ctx, TrustedConfig } from '../engine/context.ts';
import { NeedsAttentionError } from '../lib/errors.ts';
import { git, runnerGitEnv } from '../lib/git.ts';
import { hash, statKey } from './git-setup-guard.ts';
import { trustedFiles } from './trusted-files.ts';
import { gitDirOf } from '../lib/git-files.ts';
import { readHeldRecord, writeHeldRecord } from './held-record.ts';

/** The trusted config (`keys` and `files`), held by the command once read. */
const readRecord = (ctx: Ctx, file: string) => readHeldRecord(ctx, 'config', file, ['keys', 'files']);

/** The trusted config's file in the milestone's state dir. */
export const TRUSTED_CONFIG_FILE = 'git-config-trusted.json';

/** Keys whose programs the runner's git would run in a merge or a checkout, or that choose such a program. */
const RUN_IN_MERGES =
  /^(filter\..+\.(clean|smudge|process|required)|merge\..+\.driver|core\.attributesfile|diff\.external|diff\..+\.(textconv|command))$/;

/**
 * Keys that make the runner's own commits, fetches and pushes run a program: signing (`commit.gpgSign` turns it on
 * for every merge and commit; `gpg.program` and its kin say what runs), ssh, credential helpers, askpass, and the
 * programs a local or ssh transport starts on the other side.
 */
const RUN_IN_COMMITS =
  /^(commit\.gpgsign|gpg\.(.+\.)?program|gpg\.ssh\.defaultkeycommand|core\.sshcommand|core\.askpass|credential\.(.+\.)?helper|remote\.origin\.(uploadpack|receivepack))$/;

/** Keys that say where the runner fetches origin's `main` from and pushes the landing to. */
const ORIGIN_PLACE = /^(remote\.origin\.(url|pushurl|fetch)|url\..+\.(insteadof|pushinsteadof)|protocol\..*allow)$/;

/**
 * Where git in a linked worktree reads and writes its files: `core.worktree` in that worktree's own config file (git
 * ignores it in the shared one for linked worktrees). Pointed elsewhere, the merges write there, `git status` and the
 * put-back before the gates look there, and the gates, which run in the worktree's folder, check files git does not.
 */
const WORKTREE_PLACE = /^core\.worktree$/;

const isTrusted = (key: string) =>
  RUN_IN_MERGES.test(key) || RUN_IN_COMMITS.test(key) || ORIGIN_PLACE.test(key) || WORKTREE_PLACE.test(key);

/** The config files git reads besides those a read names: system, global, the repository's. */
function standardFiles(ctx: Ctx): string[] {
  // Where the runner's git looks: its environment is this process's.
  const env = runnerGitEnv();
  const home = env.HOME ?? os.homedir();
  const xdg = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return [
    ...(env.GIT_CONFIG_NOSYSTEM ? [] : [env.GIT_CONFIG_SYSTEM || '/etc/gitconfig']),
    ...(env.GIT_CONFIG_GLOBAL
      ? [env.GIT_CONFIG_GLOBAL]
      : [path.join(home, '.gitconfig'), path.join(xdg, 'git/config')]),
    path.join(ctx.commonDir, 'config'),
    path.join(ctx.commonDir, 'config.worktree'),
    // The integration worktree's own (read only with extensions.worktreeConfig, which may already be on).
    path.join(
      gitDirOf(ctx.integrationWorktree) ??
        path.join(ctx.commonDir, 'worktrees', path.basename(ctx.integrationWorktree)),
      'config.worktree',
    ),
  ];
}

/** Read the config as the runner's git sees it in the integration worktree (all scopes, includes followed). */
async function readTrusted(ctx: Ctx): Promise<TrustedConfig> {
  const cwd = existsSync(ctx.integrationWorktree) ? ctx.integrationWorktree : ctx.repo;
  const out = await git(cwd, ['config', '--list', '--show-origin', '--null']);
  const keys: Record<string, string[]> = {};
  const origins = new Set<string>();
  // Entries: origin NUL key LF value NUL (a key without a value has no LF).
  const parts = out.split('\0');
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const origin = parts[i] as string;
    const entry = parts[i + 1] as string;
    // The runner's own `-c` flags.
    if (origin.startsWith('command line:')) continue;
    // A file is named relative to where git ran when its git dir is (`.git/config` at the top).
    const where = origin.startsWith('file:') ? `file:${path.resolve(cwd, origin.slice(5))}` : origin;
    if (where.startsWith('file:')) origins.add(where.slice(5));
    const nl = entry.indexOf('\n');
    // As git prints it: section and name in lower case, a subsection (`filter.<x>`) as written (it is case-sensitive).
    const key = nl < 0 ? entry : entry.slice(0, nl);
    if (isTrusted(key)) (keys[key] ??= []).push(`${where} ${hash(nl < 0 ? '' : entry.slice(nl + 1))}`);
  }
  const watched = trustedFiles(ctx.commonDir);
  for (const tf of watched) {
    const values = tf.values();
    if (values.length > 0) keys[tf.key] = values.map((v) => `file:${tf.file} ${v}`);
  }
  for (const values of Object.values(keys)) values.sort();
  const files: Record<string, string | null> = {};
  for (const file of [...standardFiles(ctx), ...origins, ...watched.map((tf) => tf.file)].sort())
    files[file] = statKey(file);
  return { keys, files };
}

/** Trust the config as it is now, when nothing is trusted yet: before the first agent of the milestone starts. */
export async function recordTrustedConfig(ctx: Ctx): Promise<void> {
  const file = path.join(ctx.stateDir, TRUSTED_CONFIG_FILE);
  if (!(await readRecord(ctx, file))) await writeHeldRecord(ctx, 'config', file, await readTrusted(ctx));
}

/**
 * The keys that got a value none of their trusted values had (set or changed; one removed makes git run less, and
 * a removed origin is caught where the runner fetches and pushes), and the files those values are in.
 */
function describeChanges(before: TrustedConfig, now: TrustedConfig): { keys: string[]; where: string[] } {
  const changed: string[] = [];
  const where = new Set<string>();
  // A value is `<origin> <hash>`; the same value in another file (`git lfs install --local` over a global one) is
  // the same program.
  const hashOf = (v: string) => v.slice(v.lastIndexOf(' ') + 1);
  for (const [key, values] of Object.entries(now.keys)) {
    const trusted = new Set((before.keys[key] ?? []).map(hashOf));
    const added = values.filter((v) => !trusted.has(hashOf(v)));
    if (added.length > 0) changed.push(key);
    for (const v of added) where.add(v.slice(0, v.lastIndexOf(' ')).replace(/^file:/, ''));
  }
  return { keys: changed.sort(), where: [...where] };
}

/** The command that undoes the change of `key` in `file`. */
function undoCommand(key: string, file: string): string {
  const url = /^remote\.origin\.(url|pushurl)$/.exec(key);
  if (url) return `git remote set-url${url[1] === 'pushurl' ? ' --push' : ''} origin <the URL it had>`;
  // git's own default: every branch of origin under refs/remotes/origin/.
  if (key === 'remote.origin.fetch')
    return `git config --file ${file} --replace-all remote.origin.fetch '+refs/heads/*:refs/remotes/origin/*'`;
  // A driver's own section (`filter.x`), or the one key.
  const section = /^(filter|merge|diff)\./.test(key) && key.split('.').length > 2;
  return `git config --file ${file} ${section ? `--remove-section ${key.slice(0, key.lastIndexOf('.'))}` : `--unset-all ${key}`}`;
}

/**
 * Stop (exit 3) when a key that makes the runner's merges or checkouts run a program, or that says where origin is,
 * got a value since it was trusted.
 * No git call while none of the config files changed (their inode, size and times). With `--adopt` the config as it
 * is now is trusted from then on (a notice says what was kept).
 */
export async function checkTrustedConfig(ctx: Ctx): Promise<void> {
  const file = path.join(ctx.stateDir, TRUSTED_CONFIG_FILE);
  const trusted = await readRecord(ctx, file);
  // A milestone started before this guard existed: trusted from here on.
  if (!trusted) return recordTrustedConfig(ctx);
  if (Object.entries(trusted.files).every(([f, stat]) => statKey(f) === stat)) return;
  const now = await readTrusted(ctx);
  const watched = trustedFiles(ctx.commonDir);
  // A record made before a file was watched: the file as it is now is what it would have held.
  const unrecorded = watched.filter((tf) => !(tf.file in trusted.files) && now.keys[tf.key]);
  const before = {
    ...trusted,
    keys: { ...trusted.keys, ...Object.fromEntries(unrecorded.map((tf) => [tf.key, now.keys[tf.key] ?? []])) },
  };
  const { keys, where } = describeChanges(before, now);
  if (keys.length === 0 || ctx.options.adopt) {
    if (keys.length > 0)
      ctx.events.emit({ type: 'notice', message: `--adopt: keeping the git config ${keys.join(', ')}` });
    await writeHeldRecord(ctx, 'config', file, now);
    return;
  }
  const changedFiles = watched.filter((tf) => keys.includes(tf.key));
  const configKeys = keys.filter((k) => !watched.some((tf) => tf.key === k));
  const first = changedFiles[0];
  if (configKeys.length === 0 && first)
    throw new NeedsAttentionError(
      `${first.file} changed since the milestone started; ${first.why} (an agent may have written it); ` +
        `the runner stopped before merging, gating or landing with it; look with: cat ${first.file}; ` +
        `undo what you did not write, then run again, or run again with --adopt to keep it`,
    );
  const isWatched = (w: string) => watched.some((tf) => tf.file === w);
  const pattern = configKeys.map((k) => k.replace(/\./g, '\\.')).join('|');
  const configFile = where.find((w) => !isWatched(w)) ?? path.join(ctx.commonDir, 'config');
  const what = configKeys.some((k) => WORKTREE_PLACE.test(k))
    ? 'it moves where git in the integration worktree reads and writes files, so the gates would check files git ' +
      'does not'
    : configKeys.some((k) => RUN_IN_MERGES.test(k))
      ? "git runs these programs in the runner's merges and checkouts, where they can make the gates check files " +
        "that are not the commits'"
      : configKeys.some((k) => RUN_IN_COMMITS.test(k))
        ? "git runs these programs in the runner's merges, commits, fetches and pushes (one that never ends holds " +
          'each of them for as long as git may take)'
        : "they change where the runner fetches origin's main from and pushes the landing to";
  throw new NeedsAttentionError(
    `the git config changed since the milestone started: ${configKeys.join(', ')} ` +
      `(in ${where.filter((w) => !isWatched(w)).join(', ')}); ${what} ` +
      (changedFiles.length > 0 ? `(and ${changedFiles.map((tf) => tf.file).join(', ')} changed too) ` : '') +
      `(an agent may have set them); the runner stopped before merging, gating or landing with them; ` +
      `look with: git config --show-origin --get-regexp '^(${pattern})$'; ` +
      `undo what you did not set (${undoCommand(configKeys[0] as string, configFile)}), ` +
      `then run again, or run again with --adopt to keep them`,
  );
}
