/** Test rigs: real git repositories in temp folders, the real CLI as a child process. */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { ROOT, runCli, runInProcess, type CliResult } from './cli.ts';

export { cliEnv, collect, ROOT, runCli, show, startCli, TSX, type CliResult } from './cli.ts';
export { readEvents, readStateFile } from './state-files.ts';

const run = promisify(execFile);

/** Run git in `cwd` and return trimmed stdout. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** The `code` of what `f` throws (ENOENT, ENOTREG…), or null when it returns. */
export function errorCodeOf(f: () => unknown): unknown {
  try {
    f();
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/** A temp folder, removed by `cleanup`. */
export function tempDir(prefix = 'wm-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** One backlog item file. */
export interface ItemSpec {
  readonly issue: number;
  readonly title: string;
  readonly status?: string;
  readonly description?: string;
}

/** A backlog item as markdown with front matter. */
export function itemMarkdown(milestone: string | number, item: ItemSpec): string {
  return `---\nissue: ${item.issue}\ntitle: ${JSON.stringify(item.title)}\nstatus: ${item.status ?? 'open'}\nmilestone: ${milestone}\n---\n## Description\n${item.description ?? `Do ${item.title}.`}\n\n## Acceptance Criteria\n- it is done\n`;
}

/** Options of a test repository. */
export interface RepoSpec {
  readonly milestone?: number | string;
  /** The plan YAML text. */
  readonly plan: string;
  readonly items: readonly ItemSpec[];
  /** Extra files of the first commit. */
  readonly files?: Readonly<Record<string, string>>;
  /** Make a bare origin and push main to it. */
  readonly origin?: boolean;
}

/** A test repository: `dir` is the user's checkout; `origin` the bare remote, when asked for. */
export interface TestRepo {
  readonly dir: string;
  readonly origin: string | null;
  readonly root: string;
  readonly stateDir: string;
  cleanup(): void;
}

/** Make a repository with a plan, a file backlog, extra files and a first commit on main. */
export async function makeRepo(spec: RepoSpec): Promise<TestRepo> {
  const root = tempDir();
  const dir = path.join(root, 'repo');
  const milestone = spec.milestone ?? 7;
  mkdirSync(path.join(dir, 'plan', 'backlog'), { recursive: true });
  await git(dir, 'init', '-q', '-b', 'main');
  await git(dir, 'config', 'user.email', 'test@example.com');
  await git(dir, 'config', 'user.name', 'Test');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  writeFileSync(path.join(dir, 'README.md'), '# test repo\n');
  writeFileSync(path.join(dir, 'plan', `milestone-${milestone}-dispatch.yaml`), spec.plan);
  for (const item of spec.items)
    writeFileSync(path.join(dir, 'plan', 'backlog', `${item.issue}.md`), itemMarkdown(milestone, item));
  for (const [file, text] of Object.entries(spec.files ?? {})) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'initial');
  let origin: string | null = null;
  if (spec.origin) {
    origin = path.join(root, 'origin.git');
    await git(root, 'init', '-q', '--bare', '-b', 'main', origin);
    await git(dir, 'remote', 'add', 'origin', origin);
    await git(dir, 'push', '-q', 'origin', 'main');
  }
  return {
    dir,
    origin,
    root,
    stateDir: path.join(dir, '.git', 'work-milestone', `milestone-${milestone}`),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Everything about a repository that a command must not change: status, refs, stashes, worktrees, HEAD. */
export async function snapshotRepo(dir: string): Promise<string> {
  return [
    await git(dir, 'status', '--porcelain', '--untracked-files=all'),
    await git(dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    await git(dir, 'stash', 'list'),
    await git(dir, 'worktree', 'list', '--porcelain'),
    readFileSync(path.join(dir, '.git', 'HEAD'), 'utf8'),
  ].join('\n---\n');
}

/** A `command` agent (shell) that writes `$WM_ISSUE.txt`, commits it, and reports COMPLETE. */
export const COMMITTING_AGENT = `printf '%s\\n' "$WM_ISSUE" > "item-$WM_ISSUE.txt" && git add "item-$WM_ISSUE.txt" && git commit -qm "item $WM_ISSUE" && printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\nitem-%s.txt\\nNOTES: wrote item-%s.txt\\n' "$WM_BRANCH" "$WM_ISSUE" "$WM_ISSUE"`;

/**
 * A `command` agent written to `<dir>/agent.sh`: sh helpers, a call log, then `body` (which may branch on `$WM_ROLE`
 * and `$WM_ISSUE`).
 */
export interface AgentScript {
  /** The plan's `defaults.command` that runs it. */
  readonly command: string;
  /** One line per call: `<role> <issue> <cwd>`. */
  readonly log: string;
  /** The calls so far. */
  calls(): Array<{ role: string; issue: string; cwd: string }>;
}

/**
 * Write an agent script. It sets `$tools` to `dir`; helpers it defines: `report STATUS [NOTES]` prints the report;
 * `commit MESSAGE` commits
 * everything; `count NAME` increments and prints a counter kept in `dir` (outside the repository).
 */
export function writeAgent(dir: string, body: string): AgentScript {
  const file = path.join(dir, 'agent.sh');
  const log = path.join(dir, 'agent-calls.log');
  const prelude = [
    'set -e',
    `tools='${dir}'`,
    `printf '%s %s %s\\n' "$WM_ROLE" "$WM_ISSUE" "$PWD" >> '${log}'`,
    `report() { printf 'STATUS: %s\\nBRANCH: %s\\nNOTES: %s\\n' "$1" "$WM_BRANCH" "\${2:-none}"; }`,
    'commit() { git add -A && git commit -qm "$1"; }',
    `count() { n=$(cat '${dir}'/"count-$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > '${dir}'/"count-$1"; echo "$n"; }`,
  ].join('\n');
  writeFileSync(file, `${prelude}\n${body}\n`);
  return {
    command: `sh '${file}'`,
    log,
    calls: () =>
      (existsSync(log) ? readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [role = '', issue = '', ...cwd] = l.split(' ');
          return { role, issue, cwd: cwd.join(' ') };
        }),
  };
}

/**
 * Run `step.mts <step> <N> --repo <dir> [flags]` for each step in order (`inProcess`: through `main()` in this
 * process, for set-up); stops at the first that fails (returns every result).
 */
export async function runSteps(
  repo: TestRepo,
  steps: ReadonlyArray<readonly string[]>,
  milestone: number | string = 7,
  inProcess = false,
): Promise<CliResult[]> {
  const results: CliResult[] = [];
  for (const [step = '', ...flags] of steps) {
    const args = [step, String(milestone), '--repo', repo.dir, ...flags];
    const r = inProcess ? await runInProcess('step', args) : await runCli('step', args);
    results.push(r);
    if (r.code !== 0) break;
  }
  return results;
}

/** The steps of a one-wave milestone up to its merge (`step.mts` arguments). */
export const STEPS_TO_MERGE: ReadonlyArray<readonly string[]> = [
  ['validate'],
  ['prepare'],
  ['branch'],
  ['fetch'],
  ['worktrees', '--wave', '1'],
  ['wait', '--wave', '1'],
  ['merge', '--wave', '1'],
];

/** Parent shas of a commit. */
export async function parentsOf(dir: string, rev: string): Promise<string[]> {
  return (await git(dir, 'rev-list', '--parents', '-n', '1', rev)).split(' ').slice(1);
}

/** Whether a ref exists. */
export async function refExists(dir: string, ref: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('git', ['rev-parse', '-q', '--verify', ref], { cwd: dir }, (error) => resolve(!error)),
  );
}

/** The real Claude Code CLI of this package (`CLAUDE_BIN` wins). */
export const CLAUDE_BIN = process.env.CLAUDE_BIN ?? path.join(ROOT, 'node_modules', '.bin', 'claude');

/**
 * Environment for a runner whose agents are the real `claude` CLI talking to the scripted model server at `url`:
 * isolated HOME / CLAUDE_CONFIG_DIR under `home`, no outside traffic, 5xx retried once.
 */
export function claudeEnv(url: string, home: string): Record<string, string> {
  mkdirSync(path.join(home, '.claude'), { recursive: true });
  return {
    CLAUDE_BIN,
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'offline-test',
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_MAX_RETRIES: '1',
  };
}

/** A file's exact text at a revision (`git show rev:file`, not trimmed). */
export async function showFile(dir: string, rev: string, file: string): Promise<string> {
  const { stdout } = await run('git', ['show', `${rev}:${file}`], { cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Whether a git command exits 0 in `cwd`. */
export async function gitOk(cwd: string, ...args: string[]): Promise<boolean> {
  return new Promise((resolve) => execFile('git', args, { cwd }, (error) => resolve(!error)));
}

/** A new repository in a temp folder: `main` unborn, a committer configured. The caller removes the folder. */
export async function emptyRepo(prefix = 'wm-repo-'): Promise<string> {
  const dir = tempDir(prefix);
  await git(dir, 'init', '-q', '-b', 'main');
  await git(dir, 'config', 'user.name', 'Test');
  await git(dir, 'config', 'user.email', 'test@example.com');
  return dir;
}

/** A repository whose one commit on main holds a README and `plan` as `plan/milestone-7-dispatch.yaml`; no backlog. */
export async function planOnlyRepo(plan: string | Buffer, prefix = 'wm-plan-'): Promise<string> {
  const dir = path.join(tempDir(prefix), 'repo');
  mkdirSync(path.join(dir, 'plan'), { recursive: true });
  writeFileSync(path.join(dir, 'README.md'), '# sample\n');
  writeFileSync(path.join(dir, 'plan', 'milestone-7-dispatch.yaml'), plan);
  await git(dir, 'init', '-q', '-b', 'main');
  await git(dir, 'add', '-A');
  await git(
    dir,
    '-c',
    'user.name=Test',
    '-c',
    'user.email=test@example.com',
    '-c',
    'commit.gpgsign=false',
    'commit',
    '-q',
    '-m',
    'plan',
  );
  return dir;
}
