/** Test rigs: real git repositories in temp folders, the real CLI as a child process. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The package root (where scripts/ are). */
export const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

const run = promisify(execFile);

/** Run git in `cwd` and return trimmed stdout. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
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
  for (const item of spec.items) writeFileSync(path.join(dir, 'plan', 'backlog', `${item.issue}.md`), itemMarkdown(milestone, item));
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

/** Result of a CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Environment for CLI runs: no TTY renderer, no parent agent marker, no inherited tsx loader. */
export function cliEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: '1', ...extra };
  delete env.WORK_MILESTONE_CHILD;
  delete env.NODE_OPTIONS;
  return env;
}

/** Start `scripts/<script>.mts args…` as a child process (node --import tsx). */
export function startCli(script: string, args: readonly string[], options: { cwd?: string; env?: Readonly<Record<string, string>> } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'scripts', `${script}.mts`), ...args], {
    cwd: options.cwd ?? ROOT,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Run a script to its end. */
export async function runCli(script: string, args: readonly string[], options: { cwd?: string; env?: Readonly<Record<string, string>>; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(script, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
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

/** Parsed state.json of a test repo. */
export function readStateFile(repo: TestRepo): any {
  return JSON.parse(readFileSync(path.join(repo.stateDir, 'state.json'), 'utf8'));
}

/** Parsed events.jsonl of a test repo. */
export function readEvents(repo: TestRepo): any[] {
  const file = path.join(repo.stateDir, 'events.jsonl');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

/** A `command` agent (shell) that writes `$WM_ISSUE.txt`, commits it, and reports COMPLETE. */
export const COMMITTING_AGENT = `printf '%s\\n' "$WM_ISSUE" > "item-$WM_ISSUE.txt" && git add "item-$WM_ISSUE.txt" && git commit -qm "item $WM_ISSUE" && printf 'STATUS: COMPLETE\\nBRANCH: %s\\nFILES_CHANGED:\\nitem-%s.txt\\nNOTES: wrote item-%s.txt\\n' "$WM_BRANCH" "$WM_ISSUE" "$WM_ISSUE"`;
