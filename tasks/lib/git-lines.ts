/**
 * Long git output read as a stream (docs/limits.md): listings keep their first lines and count the rest; a patch is
 * parsed line by line, each line cut, so memory never grows with what git prints.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { capTextRead } from './bounded-text.ts';
import { StepFailedError } from './errors.ts';
import { pipeWaitMessage, watchForPipeWait } from './pipe-wait.ts';
import { DEFAULT_GIT_TIMEOUT_MS, RUNNER_GIT_FLAGS, failureLines, logGitCaller, runnerGitEnv } from './git.ts';

/** The first `keep` lines of a listing and how many it had. */
export interface GitLines {
  readonly lines: readonly string[];
  readonly total: number;
}

/**
 * Run `git <args>` in `cwd` (the runner's flags and environment, as lib/git.ts) and read its stdout line by line:
 * the first `keep` non-empty lines are kept, every one is counted, nothing else is held. A failure or a run past
 * the time limit is a StepFailedError.
 */
export async function gitLines(
  cwd: string,
  args: readonly string[],
  keep: number,
  timeoutMs = DEFAULT_GIT_TIMEOUT_MS,
): Promise<GitLines> {
  const lines: string[] = [];
  let total = 0;
  await streamGitLines(
    cwd,
    args,
    (line, length) => {
      if (length === 0) return;
      total += 1;
      if (lines.length < keep) lines.push(line);
    },
    { timeoutMs },
  );
  return { lines, total };
}

/**
 * The output of `git <args>` (no trailing newline) cut to `maxChars` characters with the marker `capText` leaves
 * (`… (N more characters; <where>)`); git is read to its end, but only the kept part is held.
 */
export async function gitTextHead(
  cwd: string,
  args: readonly string[],
  maxChars: number,
  where?: string,
): Promise<string> {
  let head = '';
  let total = -1;
  await streamGitLines(
    cwd,
    args,
    (line, length) => {
      if (head.length <= maxChars) head += (total < 0 ? '' : '\n') + line;
      total += length + 1;
    },
    { lineChars: maxChars + 1 },
  );
  return capTextRead(head, Math.max(total, 0), maxChars, where);
}

/** How `streamGitLines` reads. */
export interface StreamOptions {
  /** Characters of a line handed over: a longer line is cut (its whole length is still given). 64 Ki by default. */
  readonly lineChars?: number;
  /** What ends a line: a newline, or NUL for `-z` output (whose paths may hold newlines). */
  readonly separator?: '\n' | '\0';
  readonly timeoutMs?: number;
}

/**
 * Run `git <args>` in `cwd` (the runner's flags and environment, as lib/git.ts) and hand each line of its stdout to
 * `onLine` as it comes: at most `lineChars` characters of it, with its whole length (UTF-16 units, no newline). Memory
 * stays at one cut line whatever git prints. A failure or a run past the time limit is a StepFailedError.
 */
export function streamGitLines(
  cwd: string,
  args: readonly string[],
  onLine: (line: string, length: number) => void,
  options: StreamOptions = {},
): Promise<void> {
  const { lineChars = 64 * 1024, timeoutMs = DEFAULT_GIT_TIMEOUT_MS, separator = '\n' } = options;
  const callerLog = process.env.WM_GIT_CALLER_LOG;
  if (callerLog) logGitCaller(callerLog, args);
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...RUNNER_GIT_FLAGS, ...args], {
      cwd,
      env: runnerGitEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The line being read: its first characters and its length so far.
    let head = '';
    let length = 0;
    let stderr = '';
    let failed: unknown = null;
    const decoder = new StringDecoder('utf8');
    const add = (text: string, from: number, to: number) => {
      if (head.length < lineChars) head += text.slice(from, Math.min(to, from + lineChars - head.length));
      length += to - from;
    };
    const emit = () => {
      const [line, n] = [head, length];
      head = '';
      length = 0;
      // A callback that throws stops the read: git is stopped and the call fails with that error.
      if (failed === null) {
        try {
          onLine(line, n);
        } catch (error) {
          failed = error;
          child.kill('SIGKILL');
        }
      }
    };
    const take = (text: string) => {
      let from = 0;
      for (let nl = text.indexOf(separator); nl >= 0; nl = text.indexOf(separator, from)) {
        add(text, from, nl);
        emit();
        from = nl + 1;
      }
      add(text, from, text.length);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const stopWatching = watchForPipeWait(child.pid, (why) => {
      failed ??= new StepFailedError(pipeWaitMessage(args, cwd, why));
      child.kill('SIGTERM');
    });
    child.stdout.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      stopWatching();
      reject(
        new StepFailedError(`git ${args.join(' ')} could not start in ${cwd}: ${error.message}`, { cause: error }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      stopWatching();
      take(decoder.end());
      if (length > 0 || head !== '') emit();
      if (failed !== null) reject(failed);
      else if (code === 0) resolve();
      else
        reject(
          new StepFailedError(
            `git ${args.join(' ')} failed in ${cwd}: ${signal ? `stopped (${signal}) after ${timeoutMs} ms` : failureLines(stderr, 3)}`,
          ),
        );
    });
  });
}
