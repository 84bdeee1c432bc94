/**
 * A conflict-resolution or fix agent the runner waits for (docs/steps.md: merge, gates): same adapters and process
 * layer as items.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adapterFor } from '../agents/adapters.ts';
import {
  isRunning,
  killGroup,
  readExitCode,
  readOutput,
  runFilesOf,
  startDetached,
  type RunFiles,
} from './local/process.ts';
import { boundReport, parseReport } from '../agents/completion-report.ts';
import type { AgentOutcome, AgentRole } from '../agents/types.ts';
import type { Ctx } from '../engine/context.ts';
import { childEnv } from '../lib/child-env.ts';
import { formatDuration } from '../lib/duration.ts';
import { InterruptedError } from '../lib/errors.ts';
import { isGroupAlive } from '../lib/process-info.ts';
import type { AgentSettings } from '../lib/plan/types.ts';
import type { ItemReport } from '../lib/state-types.ts';

/** What a session is for. */
export interface SessionRequest {
  readonly role: Exclude<AgentRole, 'item'>;
  /** The item it is about (0 for the milestone's gates). */
  readonly issue: number;
  readonly title: string;
  readonly wave: number;
  readonly worktree: string;
  readonly branch: string;
  readonly prompt: string;
  readonly settings: AgentSettings;
  /** Folder for its files, and the name they start with (`fix-<sha>-1`); each session adds its own number. */
  readonly dir: string;
  readonly name: string;
}

/** The session's outcome (its text a bounded tail of the output) and its report, capped as an item's. */
export interface SessionResult {
  readonly outcome: AgentOutcome;
  readonly report: ItemReport | null;
}

/** The files of one session: its prompt and its run files. */
interface SessionFiles {
  readonly promptFile: string;
  readonly files: RunFiles;
}

/**
 * Files no earlier session used: the first `<name>-<k>` of `dir` with none of its files, claimed by creating its
 * prompt exclusively. A caller may repeat a name (`run` again after red gates asks for the same fix attempt);
 * reusing its files would read the earlier process's exit code and output as this one's.
 */
async function claimSessionFiles(dir: string, name: string, prompt: string): Promise<SessionFiles> {
  await mkdir(dir, { recursive: true });
  for (let k = 1; ; k++) {
    const files = runFilesOf(dir, `${name}-${k}`);
    const promptFile = path.join(dir, `${name}-${k}.prompt.md`);
    if ([files.exit, `${files.exit}.tmp`, files.pid, files.stdout, files.stderr, promptFile].some((f) => existsSync(f)))
      continue;
    try {
      await writeFile(promptFile, prompt, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw error;
    }
    return { promptFile, files };
  }
}

/** Start an agent and wait for it (timeout kills its group); each session has files of its own. */
export async function runAgentSession(ctx: Ctx, req: SessionRequest): Promise<SessionResult> {
  const { promptFile, files } = await claimSessionFiles(req.dir, req.name, req.prompt);
  const adapter = adapterFor(req.settings.agent);
  const spec = adapter.launch({ ...req, promptFile, milestone: ctx.plan.milestone.id, edits: [] }, ctx.env);
  const env = childEnv(ctx.env, {
    WM_PROMPT_FILE: promptFile,
    WM_ISSUE: String(req.issue),
    WM_TITLE: req.title,
    WM_WORKTREE: req.worktree,
    WM_BRANCH: req.branch,
    WM_WAVE: String(req.wave),
    WM_MILESTONE: ctx.plan.milestone.id,
    WM_ROLE: req.role,
  });
  const proc = await startDetached(spec, req.worktree, files, env);
  ctx.events.emit({ type: 'agent-spawned', issue: req.issue, role: req.role, pid: proc.pid, attempt: 1 });
  const started = Date.now();
  let code = readExitCode(files, proc.pid);
  while (code === null) {
    if (ctx.signal.aborted) {
      await killGroup(proc.pid);
      throw new InterruptedError(`interrupted during the ${req.role} agent of #${req.issue}`);
    }
    if (!isRunning(proc)) {
      // It may have written its exit code and ended between the read above and this check.
      code = readExitCode(files, proc.pid);
      break;
    }
    if (Date.now() - started > req.settings.timeoutMs) {
      await killGroup(proc.pid);
      break;
    }
    await sleep(200);
    code = readExitCode(files, proc.pid);
  }
  // Whatever it left running in its process group goes with it.
  if (isGroupAlive(proc.pid)) await killGroup(proc.pid, 1000);
  const output = readOutput(files);
  const outcome: AgentOutcome =
    code === null
      ? {
          ok: false,
          text: '',
          failure: `no result after ${formatDuration(Date.now() - started)} (timed out or died)`,
          costUsd: null,
          turns: null,
          sessionId: null,
          usage: null,
          denials: [],
        }
      : adapter.parse({ ...output, exitCode: code });
  ctx.events.emit({
    type: 'agent-exited',
    issue: req.issue,
    role: req.role,
    exitCode: code,
    detail: outcome.failure ?? undefined,
  });
  await ctx.store.update((s) => {
    s.sessions = [
      ...(s.sessions ?? []),
      {
        role: req.role,
        issue: req.issue,
        ok: outcome.ok,
        costUsd: outcome.costUsd,
        turns: outcome.turns,
        at: new Date().toISOString(),
      },
    ];
  });
  // The report as an item's is kept: capped, pointing at the output file for the rest (docs/limits.md).
  const report = outcome.text ? parseReport(outcome.text) : null;
  return {
    outcome,
    report: report && boundReport(report, outcome.outputFile ? `full text in ${outcome.outputFile}` : undefined),
  };
}
