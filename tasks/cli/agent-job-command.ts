/**
 * `work-milestone agent-job <out-dir>`: the job entry command of a remote agent (docs/executors.md). In a checkout of
 * the item's base commit it runs the agent the runner described (`WM_JOB`: the adapter's command line, its prompt,
 * its `WM_*` variables) the way the local executor does — the same detached wrapper, output in files — pushes the
 * item branch (`WM_JOB_BRANCH`) and writes `<out-dir>/result.json`: the bounded output tails, the exit code, what it
 * pushed. It exits 0 when it wrote a result, whatever the agent did: the runner judges that, as for a local agent.
 * Cancelled (SIGTERM, SIGINT), it stops the agent, pushes nothing and exits 130.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adapterFor } from '../agents/adapters.ts';
import { decodeJobSpec, RESULT_FILE, resultRefOf, type JobResult } from '../executors/remote/job-spec.ts';
import {
  isRunning,
  killGroup,
  readExitCode,
  readOutput,
  runFilesOf,
  startDetached,
} from '../executors/local/process.ts';
import { ORIGIN, pushWithAccess, withholdPushAccess, type PushAccess } from '../executors/remote/push-access.ts';
import { BadInputError, InterruptedError, StepFailedError } from '../lib/errors.ts';
import { git, gitRaw, failureLines } from '../lib/git.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** Run the job described by `WM_JOB` in the current directory; its result goes to `outDir`. */
export async function agentJobCommand(outDir: string, _flags: Flags, io: Io): Promise<number> {
  const job = io.env.WM_JOB;
  const branch = io.env.WM_JOB_BRANCH?.trim();
  if (!job || !branch)
    throw new BadInputError('agent-job needs WM_JOB and WM_JOB_BRANCH (the workflow init-workflow writes sets them)');
  // It pushes this branch (below): only ever an item branch, never main or the integration branch.
  if (!/^work\/[^/]/.test(branch) || branch.includes('..'))
    throw new BadInputError(`agent-job pushes item branches (work/…) only, not "${branch}"`);
  const spec = decodeJobSpec(job);
  const cwd = io.cwd;
  const out = path.resolve(cwd, outDir);
  await mkdir(out, { recursive: true });
  // A later attempt goes on from what the previous one pushed, as a local retry goes on in its worktree: the push
  // below is then a fast-forward, never forced. The first attempt starts at the checked-out base.
  const previous = await gitRaw(cwd, ['fetch', '-q', '--no-tags', ORIGIN, `refs/heads/${branch}`]);
  const switched = await gitRaw(cwd, [
    'switch',
    '-q',
    '-C',
    branch,
    ...(previous.exitCode === 0 ? ['FETCH_HEAD'] : []),
  ]);
  if (switched.exitCode !== 0)
    throw new BadInputError(`agent-job: cannot start ${branch} here: ${failureLines(switched.stderr, 3)}`);
  // From here on the checkout holds no push credentials: the agent's own `git push` cannot reach the remote.
  const access = await withholdPushAccess(cwd);
  const promptFile = path.join(out, 'prompt.md');
  await writeFile(promptFile, spec.prompt);
  const env: NodeJS.ProcessEnv = { ...io.env, ...spec.env, WM_PROMPT_FILE: promptFile, WM_WORKTREE: cwd };
  delete env.WM_JOB;
  // The pod's clone URL may hold a token (docs/executors.md): the agent gets neither it nor the checkout's copy.
  delete env.WM_REMOTE_URL;
  const files = runFilesOf(out, 'agent');
  const launch = { file: spec.file, args: spec.args, env: {}, ...(spec.stdin ? { stdinFile: promptFile } : {}) };
  const started = await startDetached(launch, cwd, files, env);
  // A cancelled job (SIGTERM, SIGINT: the Job deleted, the workflow run cancelled) takes the agent's group with it
  // and pushes nothing: the runner has given the attempt up, and its next attempt pushes this branch itself.
  let cancelled: Promise<void> | null = null;
  const stop = () => void (cancelled ??= killGroup(started.pid, 2000));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    while (cancelled === null && readExitCode(files, started.pid) === null && isRunning(started)) await sleep(100);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
  if (cancelled !== null) {
    await cancelled;
    throw new InterruptedError(`${spec.id}: cancelled; the agent was stopped and nothing was pushed`);
  }
  const exitCode = readExitCode(files, started.pid) ?? 1;
  const output = readOutput(files);
  // Never forced: a remote branch this attempt did not start from (a job of the same attempt pushed first, a branch
  // left by someone else) makes the push fail, and the result says so.
  const pushed = await pushWithAccess(cwd, access, `HEAD:refs/heads/${branch}`);
  const head = (await gitRaw(cwd, ['rev-parse', 'HEAD'])).stdout.trim();
  const outcome = adapterFor(spec.agent).parse({ ...output, exitCode });
  const result: JobResult = {
    id: spec.id,
    exitCode,
    stdout: output.stdout,
    stderr: output.stderr,
    pushed: pushed.exitCode === 0 ? head : null,
    pushError: pushed.exitCode === 0 ? null : failureLines(pushed.stderr || pushed.stdout, 3),
    costUsd: outcome.costUsd,
    usage: outcome.usage,
  };
  const text = `${JSON.stringify(result, null, 2)}\n`;
  await writeFile(path.join(out, RESULT_FILE), text);
  // Kubernetes keeps 4 KiB of a pod's termination message: the short form; the whole result is the ref.
  if (io.env.WM_TERMINATION_LOG)
    await writeFile(io.env.WM_TERMINATION_LOG, JSON.stringify({ id: spec.id, exitCode, pushed: result.pushed }));
  await pushResultRef(cwd, access, spec.id, text).catch((error: unknown) =>
    io.err(`${spec.id}: the result ref was not pushed (${(error as Error).message}); the artifact has it`),
  );
  io.out(`${spec.id}: the agent exited ${exitCode}; ${result.pushed ? `pushed ${branch} at ${head}` : `push failed`}`);
  return 0;
}

/** Push `result.json` as a commit of its own to the result ref (no working tree touched). */
async function pushResultRef(cwd: string, access: PushAccess, id: string, text: string): Promise<void> {
  const blob = await git(cwd, ['hash-object', '-w', '--stdin'], { input: text });
  const tree = await git(cwd, ['mktree'], { input: `100644 blob ${blob}\t${RESULT_FILE}\n` });
  const commit = await git(cwd, ['commit-tree', tree, '-m', `work-milestone result ${id}`]);
  // One result ref per attempt: a second job of the same attempt cannot replace the first one's (never forced).
  const pushed = await pushWithAccess(cwd, access, `${commit}:${resultRefOf(id)}`);
  if (pushed.exitCode !== 0) throw new StepFailedError(failureLines(pushed.stderr || pushed.stdout, 3));
}
