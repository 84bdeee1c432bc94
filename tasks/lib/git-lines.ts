/** Long git listings read as a stream: the first lines are kept, the rest only counted (docs/limits.md). */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { StepFailedError } from './errors.ts';
import { DEFAULT_GIT_TIMEOUT_MS, RUNNER_GIT_FLAGS, lastLines, logGitCaller, runnerGitEnv } from './git.ts';

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
export function gitLines(
  cwd: string,
  args: readonly string[],
  keep: number,
  timeoutMs = DEFAULT_GIT_TIMEOUT_MS,
): Promise<GitLines> {
  const callerLog = process.env.WM_GIT_CALLER_LOG;
  if (callerLog) logGitCaller(callerLog, args);
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...RUNNER_GIT_FLAGS, ...args], {
      cwd,
      env: runnerGitEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let total = 0;
    let rest = '';
    let stderr = '';
    const decoder = new StringDecoder('utf8');
    const take = (line: string) => {
      if (line === '') return;
      total += 1;
      if (lines.length < keep) lines.push(line);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (rest + decoder.write(chunk)).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) take(part);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new StepFailedError(`git ${args.join(' ')} could not start in ${cwd}: ${error.message}`, { cause: error }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      take(rest + decoder.end());
      if (code === 0) resolve({ lines, total });
      else
        reject(
          new StepFailedError(
            `git ${args.join(' ')} failed in ${cwd}: ${signal ? `stopped (${signal}) after ${timeoutMs} ms` : lastLines(stderr, 3)}`,
          ),
        );
    });
  });
}
