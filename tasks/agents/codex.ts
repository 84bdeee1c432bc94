/**
 * The `codex` agent: `codex exec --json --ephemeral [-m M] [sandbox] [agent-args…] -- - <prompt-file`.
 * Measured with @openai/codex 0.169.0: docs/codex-cli.md.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { RUNNER_GIT_FLAGS, runnerGitEnv } from '../lib/git.ts';
import { outputFileOf, tail, type AgentAdapter, type AgentOutcome } from './types.ts';

/** What `codex exec --json` prints, one JSON object a line, as far as we read it. */
interface CodexEvent {
  readonly type?: string;
  readonly thread_id?: string;
  readonly message?: string;
  readonly usage?: Record<string, unknown>;
  readonly error?: { readonly message?: string };
  readonly item?: { readonly type?: string; readonly text?: string; readonly message?: string };
}

/** Item kinds that are something the model did (one model answer each); not reasoning, plans or warnings. */
const ACTION_ITEMS = new Set([
  'agent_message',
  'command_execution',
  'file_change',
  'mcp_tool_call',
  'web_search',
  'collab_tool_call',
]);

/** What a codex JSON-lines stream says. */
export interface CodexRun {
  /** `thread.started.thread_id`. */
  readonly threadId: string | null;
  /** The text of the last `agent_message` item (the report), or ''. */
  readonly lastMessage: string;
  /** `turn.completed.usage`, summed over turns (numbers only). */
  readonly usage: Record<string, number> | null;
  readonly turnsCompleted: number;
  /** The message of the last `turn.failed`, or null. */
  readonly turnFailed: string | null;
  /**
   * Messages of top-level `error` events ("Reconnecting... 1/5 (…)", the final error) and of `error` items (warnings).
   */
  readonly errors: readonly string[];
  /** Completed items that are model actions (commands, file changes, messages, …). */
  readonly actions: number;
}

/** Read codex's JSON lines (lines that are not JSON objects are skipped). */
export function parseCodexEvents(stdout: string): CodexRun {
  let threadId: string | null = null;
  let lastMessage = '';
  let usage: Record<string, number> | null = null;
  let turnsCompleted = 0;
  let turnFailed: string | null = null;
  const errors: string[] = [];
  let actions = 0;
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let ev: CodexEvent;
    try {
      ev = JSON.parse(line) as CodexEvent;
    } catch {
      continue;
    }
    if (!ev || typeof ev !== 'object') continue;
    switch (ev.type) {
      case 'thread.started':
        threadId = typeof ev.thread_id === 'string' ? ev.thread_id : threadId;
        break;
      case 'turn.completed':
        turnsCompleted += 1;
        for (const [key, value] of Object.entries(ev.usage ?? {})) {
          if (typeof value !== 'number') continue;
          usage ??= {};
          usage[key] = (usage[key] ?? 0) + value;
        }
        break;
      case 'turn.failed':
        turnFailed = ev.error?.message ?? 'turn failed';
        break;
      case 'error':
        if (typeof ev.message === 'string') errors.push(ev.message);
        break;
      case 'item.completed': {
        const item = ev.item;
        if (!item) break;
        if (item.type === 'agent_message' && typeof item.text === 'string') lastMessage = item.text;
        if (item.type === 'error' && typeof item.message === 'string') errors.push(item.message);
        if (item.type && ACTION_ITEMS.has(item.type)) actions += 1;
        break;
      }
      default:
        break;
    }
  }
  return { threadId, lastMessage, usage, turnsCompleted, turnFailed, errors, actions };
}

/**
 * Flags that choose codex's sandbox: when agent-args have one, the adapter adds none of its own (`-s` twice is an
 * error).
 */
function choosesSandbox(args: readonly string[]): boolean {
  return args.some(
    (a, i) =>
      a === '-s' ||
      a === '--sandbox' ||
      a.startsWith('--sandbox=') ||
      (a.startsWith('-s') && !a.startsWith('--') && a.length > 2) ||
      a === '--dangerously-bypass-approvals-and-sandbox' ||
      ((a === '-c' || a === '--config') && /^\s*sandbox_mode\s*=/.test(args[i + 1] ?? '')) ||
      /^(-c|--config=)\s*sandbox_mode\s*=/.test(a),
  );
}

/**
 * `-s workspace-write` plus the git directories a commit writes to: the worktree's own git dir
 * (`<repo>/.git/worktrees/<name>`, which codex makes read-only as the target of the worktree's `.git`
 * file) and the common dir (objects, refs). Measured: both are needed (docs/codex-cli.md).
 */
export function sandboxArgs(worktree: string): string[] {
  const args = ['-s', 'workspace-write'];
  try {
    // Synchronous (launch is), so a short limit: it blocks the runner while it runs.
    const out = execFileSync(
      'git',
      [...RUNNER_GIT_FLAGS, 'rev-parse', '--path-format=absolute', '--git-dir', '--git-common-dir'],
      {
        cwd: worktree,
        encoding: 'utf8',
        env: runnerGitEnv(),
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 60_000,
      },
    );
    const dirs = [
      ...new Set(
        out
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .map((d) => path.resolve(worktree, d)),
      ),
    ];
    for (const dir of dirs) args.push('--add-dir', dir);
  } catch {
    // not a git worktree (cannot happen for item worktrees): the sandbox alone
  }
  return args;
}

/**
 * Claude model names (the plan's built-in default is `sonnet`): not passed to codex, which then uses its own default
 * model.
 */
export function isClaudeModel(model: string): boolean {
  return /^(sonnet|opus|haiku|default|best|opusplan)(\[.*\])?$/i.test(model) || /^claude-/i.test(model);
}

/** codex adapter. */
export const codexAgent: AgentAdapter = {
  kind: 'codex',
  launch(inv, env) {
    const s = inv.settings;
    const args = ['exec', '--json', '--ephemeral'];
    if (s.model && !isClaudeModel(s.model)) args.push('-m', s.model);
    if (s.effort) args.push('-c', `model_reasoning_effort=${JSON.stringify(s.effort)}`);
    if (!choosesSandbox(s.agentArgs)) args.push(...sandboxArgs(inv.worktree));
    // The prompt on stdin (`-` as the prompt): an argument over 128 KiB is E2BIG. The file ends, so codex does not
    // wait for more input. `--` so `-` is the prompt whatever agent-args end with.
    args.push(...s.agentArgs, '--', '-');
    return { file: env.CODEX_BIN || 'codex', args, env: {}, stdinFile: inv.promptFile };
  },
  parse(output): AgentOutcome {
    const { stdout, stderr, exitCode } = output;
    const run = parseCodexEvents(stdout);
    const text = run.lastMessage.trim();
    const lastError = run.errors[run.errors.length - 1] ?? '';
    let failure: string | null = null;
    if (run.turnFailed !== null) failure = `codex turn failed: ${run.turnFailed}`;
    else if (exitCode !== 0) failure = `exited ${exitCode}: ${tail(lastError || stderr || stdout)}`;
    else if (run.turnsCompleted === 0)
      failure = `codex ended without turn.completed: ${tail(lastError || stderr || stdout)}`;
    else if (text === '') failure = 'codex returned no agent message';
    if (failure !== null && exitCode !== 0 && run.turnFailed !== null) failure += ` (exit ${exitCode})`;
    return {
      ok: failure === null,
      text,
      failure,
      costUsd: null,
      turns: run.threadId === null && run.actions === 0 ? null : run.actions,
      sessionId: run.threadId,
      usage: run.usage,
      denials: [],
      ...outputFileOf(output),
    };
  },
};
