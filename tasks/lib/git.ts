/**
 * The runner's own git: git is spawned directly with an argument list (no shell, nothing is quoted or expanded), in
 * the directory the call names. Every call of the runner's own git goes through here: no hooks, no fsmonitor,
 * nothing that waits for a human, and a time limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration } from './duration.ts';
import { pipeWaitMessage, watchForPipeWait } from './pipe-wait.ts';
import { BadInputError, StepFailedError } from './errors.ts';
import { withRepoLock } from './repo-lock.ts';

/**
 * Before the command on every runner git call: an agent may have planted hooks or an fsmonitor program in the
 * repository, and the runner must not run them (hooks would also run on the runner's merges, commits and pushes).
 * No automatic maintenance either: git would start `git maintenance run --auto` after each of the runner's merges
 * and commits (a process each, and a repack in the middle of a run would move the loose objects the runner reads,
 * lib/git-objects.ts); the user's own next commit runs it.
 */
export const RUNNER_GIT_FLAGS: readonly string[] = [
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'core.fsmonitor=false',
  '-c',
  'maintenance.auto=false',
];

/** How long one git call may take unless the call says otherwise. */
export const DEFAULT_GIT_TIMEOUT_MS = 10 * 60_000;

/** After the time limit git gets SIGTERM (it removes its lock files), then SIGKILL this much later. */
const KILL_GRACE_MS = 5000;

/** Options of one git call. */
export interface GitOptions {
  /** Time limit; a call still running then is stopped and becomes a StepFailedError. */
  readonly timeoutMs?: number;
  /** Text for git's stdin. */
  readonly input?: string;
  /** Variables added to the environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The most a git call's stdout may print to be read whole (256 MiB, under V8's limit on a string). A call that
 * prints more is stopped and fails with a message, not a crash of the runner; output that can be big is read as a
 * stream (lib/git-lines.ts).
 */
export const MAX_GIT_OUTPUT_BYTES = 256 * 1024 * 1024;

/**
 * The environment of the runner's git: nothing may wait for a terminal prompt or an editor, and objects are what they
 * are. A replace ref (`git replace <judged> <other>`, which anyone with the repository can make, an agent's leftover
 * process too) would otherwise make every git command read another commit's content for the judged one: the merge
 * would bring in work nobody judged, under the judged sha. A line in `.git/info/grafts` (deprecated, still honoured,
 * and not turned off by GIT_NO_REPLACE_OBJECTS) would give any commit other parents: a merge base of its choosing,
 * which can drop what earlier items merged. GIT_GRAFT_FILE names a path that can never exist (below a device, so
 * git does not even warn): no grafts are read.
 */
export function runnerGitEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // GIT_OPTIONAL_LOCKS=0: the runner's `git status` in the user's checkout must not take its index lock.
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_EDITOR: 'true',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_GRAFT_FILE: '/dev/null/grafts',
  };
}

/**
 * git writes a new worktree's admin files one after another, and other commands reading the worktree list at that
 * moment fail ("failed to read .git/worktrees/x/commondir"): another milestone of the repository may be adding one.
 */
const WORKTREE_RACE =
  /failed to read .*worktrees\/[^/]+\/(commondir|gitdir|HEAD)|worktrees\/[^/]+\/gitdir.*(invalid|not a valid)/;
const WORKTREE_RACE_RETRIES = 5;

/**
 * `git worktree add` first writes the new worktree's HEAD as all zeros and sets it a moment later: a fetch in any
 * worktree of the repository reads every worktree's HEAD for its connectivity check and fails on that placeholder.
 */
const WORKTREE_HEAD_PLACEHOLDER = /bad object worktrees\/[^/\s]+\/HEAD/;

/** What one git call gave: its whole output, decoded once as UTF-8, and how it ended. */
export interface GitResult {
  /** git's exit code; null when it was ended by a signal or could not start (then `stderr` says why). */
  readonly exitCode: number | null;
  /** The signal that ended git, if one did. */
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run git in `cwd` and return trimmed stdout; a failure becomes StepFailedError with git's own words. */
export async function git(cwd: string, args: readonly string[], options: GitOptions = {}): Promise<string> {
  const out = await gitRaw(cwd, args, options);
  if (out.exitCode !== 0) {
    throw new StepFailedError(`git ${args.join(' ')} failed in ${cwd}: ${failureLines(out.stderr || out.stdout, 3)}`);
  }
  return out.stdout.trim();
}

/**
 * Run git and return the whole result, whatever the exit code. The third argument is stdin text (the old form)
 * or options. Only a call that outlives its time limit throws: StepFailedError naming the command and the limit.
 */
export async function gitRaw(
  cwd: string,
  args: readonly string[],
  inputOrOptions?: string | GitOptions,
): Promise<GitResult> {
  const options: GitOptions = typeof inputOrOptions === 'string' ? { input: inputOrOptions } : (inputOrOptions ?? {});
  for (let attempt = 1; ; attempt++) {
    const out = await gitOnce(cwd, args, options);
    // `worktree add -b` may have made its branch before failing: never repeated (addWorktree serialises adds instead).
    const add = args[0] === 'worktree' && args[1] === 'add';
    if (out.exitCode === 0 || add || attempt > WORKTREE_RACE_RETRIES) return out;
    if (WORKTREE_HEAD_PLACEHOLDER.test(out.stderr)) {
      const again = await afterWorktreeAdds(cwd, args, options);
      if (again) return again;
    } else if (!WORKTREE_RACE.test(out.stderr)) return out;
    await sleep(50 * attempt);
  }
}

/**
 * The call again, holding the lock every runner's `worktree add` holds (addWorktree): an add of another milestone
 * has then ended. Null when the common dir cannot be found or the call still meets a placeholder (an add made by
 * hand, outside any runner): the caller retries after a pause.
 */
/** How long `worktrees.lock` is waited for: a worktree add holds it while it checks out (minutes when huge). */
const worktreesLockWait = (command: string) => ({
  command,
  maxWaitMs: 10 * 60_000,
  heldFor: 'a worktree add holds it while it checks a worktree out',
});

async function afterWorktreeAdds(cwd: string, args: readonly string[], options: GitOptions): Promise<GitResult | null> {
  const common = await gitOnce(cwd, ['rev-parse', '--path-format=absolute', '--git-common-dir'], {});
  if (common.exitCode !== 0) return null;
  const out = await withRepoLock(common.stdout.trim(), 'worktrees', worktreesLockWait(`git ${args[0] ?? ''}`), () =>
    gitOnce(cwd, args, options),
  );
  return out.exitCode !== 0 && WORKTREE_HEAD_PLACEHOLDER.test(out.stderr) ? null : out;
}

async function gitOnce(cwd: string, args: readonly string[], options: GitOptions): Promise<GitResult> {
  const callerLog = process.env.WM_GIT_CALLER_LOG;
  if (callerLog) logGitCaller(callerLog, args);
  const limit = options.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  let child: ChildProcess;
  try {
    child = spawn('git', [...RUNNER_GIT_FLAGS, ...args], {
      cwd,
      env: { ...runnerGitEnv(), ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    // An argument spawn refuses (a NUL byte): a failed call, as a git that cannot start.
    return notStarted(cwd, error);
  }
  const ended = collect(cwd, child);
  if (options.input !== undefined && child.stdin) {
    // git may exit without reading all of its input (EPIPE): its exit code tells what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  }
  let timedOut = false;
  // Why git was stopped before its time limit: it waits to open a named pipe (lib/pipe-wait.ts).
  let stuck: string | null = null;
  const timers: NodeJS.Timeout[] = [];
  let stopWatching = (): void => undefined;
  const expired = new Promise<'expired'>((resolve) => {
    const expire = () => {
      void stop(child, 'SIGTERM');
      timers.push(
        setTimeout(() => void stop(child, 'SIGKILL'), KILL_GRACE_MS),
        setTimeout(() => resolve('expired'), 2 * KILL_GRACE_MS),
      );
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        expire();
      }, limit),
    );
    stopWatching = watchForPipeWait(child.pid, (why) => {
      stuck = why;
      expire();
    });
  });
  // A git that survives even SIGKILL (stuck in the kernel) is given up on, not waited for.
  const out = await Promise.race([ended, expired]).finally(() => {
    timers.forEach(clearTimeout);
    stopWatching();
  });
  if (stuck !== null) throw new StepFailedError(pipeWaitMessage(args, cwd, stuck));
  if (timedOut) {
    throw new StepFailedError(
      `git ${args.join(' ')} in ${cwd} did not finish within its time limit of ${formatLimit(limit)} and was stopped`,
    );
  }
  return out as GitResult;
}

/**
 * For the overhead bench: one line per runner git call, its subcommand and the runner functions that asked for it
 * (the first frames of the stack outside this file), so calls can be counted by caller.
 */
export function logGitCaller(file: string, args: readonly string[]): void {
  const frames = (new Error().stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => /at (?:async )?(\S+) \(.*\/tasks\/([^:]+):(\d+)/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2] !== 'lib/git.ts' && m[2] !== 'lib/git-lines.ts')
    .slice(0, 3)
    .map((m) => `${m[1]}@${m[2]}:${m[3]}`);
  appendFileSync(file, `${JSON.stringify({ cmd: args.slice(0, 2), at: frames })}\n`);
}

/**
 * The most of a git's stderr kept, its end (where git says what failed): a remote's sideband messages during a fetch
 * or push, or a program the config runs, can print without end.
 */
export const MAX_GIT_STDERR_BYTES = 1024 * 1024;

/**
 * The result of a started git: stdout is kept as Buffers up to MAX_GIT_OUTPUT_BYTES (`git show` of a large file,
 * `git log` of thousands of commits), stderr's last MAX_GIT_STDERR_BYTES, each decoded once every stream has closed.
 */
function collect(cwd: string, child: ChildProcess): Promise<GitResult> {
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let overflow = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (overflow) return;
      bytes += chunk.length;
      if (bytes <= MAX_GIT_OUTPUT_BYTES) return void stdout.push(chunk);
      overflow = true;
      stdout.length = 0;
      void stop(child, 'SIGKILL');
    });
    let stderrBytes = 0;
    let stderrCut = 0;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      stderrBytes += chunk.length;
      // Whole chunks are dropped from the front while the rest still holds the limit.
      while (stderr.length > 1 && stderrBytes - (stderr[0] as Buffer).length >= MAX_GIT_STDERR_BYTES) {
        const dropped = stderr.shift() as Buffer;
        stderrBytes -= dropped.length;
        stderrCut += dropped.length;
      }
    });
    let startError: unknown = null;
    // A directory that does not exist, or no git on PATH: 'error' comes, then 'close'.
    child.once('error', (error) => (startError ??= error));
    child.once('close', (code, signal) => {
      if (startError !== null) return resolve(notStarted(cwd, startError));
      if (overflow) {
        const stderrText = `printed more than ${MAX_GIT_OUTPUT_BYTES / 1024 / 1024} MiB, the most the runner reads whole`;
        return resolve({ exitCode: null, signal, stdout: '', stderr: `${stderrText}\n` });
      }
      resolve({
        exitCode: code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: `${stderrCut > 0 ? `(${stderrCut} bytes of stderr left out)\n` : ''}${Buffer.concat(stderr).toString('utf8')}`,
      });
    });
  });
}

function notStarted(cwd: string, error: unknown): GitResult {
  // Node says `spawn git ENOENT` for a missing directory as well as for a missing git.
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const why =
    code === 'ENOENT' ? 'no such directory, or no git on PATH' : error instanceof Error ? error.message : String(error);
  return { exitCode: null, signal: null, stdout: '', stderr: `git could not start in ${cwd}: ${why}\n` };
}

/** Send `signal` to a git call and the processes it started (a remote helper, ssh), if it is still running. */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Only a call past its time or output limit gets here: zx's tree walk is loaded then, not on every call.
    const { kill } = await import('zx');
    await kill(pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already ended
    }
  }
}

function formatLimit(ms: number): string {
  return ms < 1000 ? `${ms}ms` : formatDuration(ms);
}

/** Whether `git <args>` exits 0. */
export async function gitOk(cwd: string, args: readonly string[], options: GitOptions = {}): Promise<boolean> {
  return (await gitRaw(cwd, args, options)).exitCode === 0;
}

/** The sha a ref points at, or null. */
export async function revParse(cwd: string, ref: string): Promise<string | null> {
  const out = await gitRaw(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return out.exitCode === 0 ? out.stdout.trim() : null;
}

/** Whether `ancestor` is an ancestor of (or equal to) `ref`. */
export async function isAncestor(cwd: string, ancestor: string, ref: string): Promise<boolean> {
  return gitOk(cwd, ['merge-base', '--is-ancestor', ancestor, ref]);
}

/** The top of the repository around `cwd`; bad input when there is none. */
export async function findRepoRoot(cwd: string): Promise<string> {
  // A directory that does not exist fails to spawn; a git that hangs is a failed step, not bad input.
  const out = await gitRaw(cwd, ['rev-parse', '--show-toplevel']).catch((error: unknown) => {
    if (error instanceof StepFailedError) throw error;
    return null;
  });
  if (!out || out.exitCode !== 0) throw new BadInputError(`${cwd} is not inside a git repository; pass --repo DIR`);
  return out.stdout.trim();
}

function isDirectory(file: string): boolean {
  try {
    return lstatSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** The git common dir (shared by all worktrees), absolute. */
export async function findCommonDir(repo: string): Promise<string> {
  // A main worktree's own `.git` folder without a `commondir` file is the common dir (git reads the same files),
  // unless the environment points git elsewhere.
  const dotGit = path.join(repo, '.git');
  const redirected = ['GIT_DIR', 'GIT_COMMON_DIR'].some((name) => process.env[name] !== undefined);
  if (!redirected && isDirectory(dotGit) && !existsSync(path.join(dotGit, 'commondir'))) return dotGit;
  return path.resolve(repo, await git(repo, ['rev-parse', '--git-common-dir']));
}

/** One worktree as `git worktree list --porcelain` gives it. */
export interface WorktreeInfo {
  readonly path: string;
  readonly head: string | null;
  readonly branch: string | null;
}

/** Every worktree of the repository. */
export async function listWorktrees(repo: string): Promise<WorktreeInfo[]> {
  const out = await git(repo, ['worktree', 'list', '--porcelain']);
  return out
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const lines = block.split('\n');
      const get = (k: string) => lines.find((l) => l.startsWith(`${k} `))?.slice(k.length + 1) ?? null;
      return {
        path: get('worktree') ?? '',
        head: get('HEAD'),
        branch: get('branch')?.replace(/^refs\/heads\//, '') ?? null,
      };
    });
}

/**
 * The lines of a failed command's output that say what failed, joined with ` / `: `n` lines from its first `fatal:`
 * or `error:` line (git's message comes first, its advice after: "Unable to create '…/index.lock': File exists"
 * before "remove the file manually"), else its last `n` lines.
 */
export function failureLines(text: string, n: number): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const first = lines.findIndex((l) => /^(fatal|error)(:| from server)/i.test(l));
  return (first >= 0 ? lines.slice(first, first + n) : lines.slice(-n)).join(' / ');
}

/**
 * `git worktree add`, one at a time across every runner of the repository: git writes a new worktree's admin files one
 * by one, and a second add reading them half-written fails after it may already have created its branch.
 */
export async function addWorktree(repo: string, commonDir: string, args: readonly string[]): Promise<void> {
  await withRepoLock(commonDir, 'worktrees', worktreesLockWait('git worktree add'), () =>
    git(repo, ['worktree', 'add', '--quiet', ...args]),
  );
}
