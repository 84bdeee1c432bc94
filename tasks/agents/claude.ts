/**
 * The `claude` agent: `claude -p --output-format stream-json --verbose … <prompt-file` (docs/claude-cli.md): one JSON
 * event per line as it works (what the live board and `status` show as its last activity), the result event last.
 */
import { capEntry } from '../lib/bounded-text.ts';
import { outputFileOf, tail, type AgentAdapter, type AgentOutcome } from './types.ts';

interface ClaudeJson {
  readonly type?: string;
  readonly subtype?: string;
  readonly is_error?: boolean;
  readonly result?: string;
  readonly total_cost_usd?: number;
  readonly num_turns?: number;
  readonly session_id?: string;
  readonly usage?: Record<string, unknown>;
  /**
   * Why the session ended (`completed`, `api_error`, `budget_exhausted`, …); `subtype` says "success" even for API
   * errors.
   */
  readonly terminal_reason?: string;
  readonly api_error_status?: number | null;
  /** Set instead of `result` by some failures (`--max-budget-usd` reached). */
  readonly errors?: readonly unknown[];
  readonly permission_denials?: ReadonlyArray<{ readonly tool_name?: string; readonly tool_input?: unknown }>;
}

/**
 * The result event: the last JSON line of the CLI's stdout whose type is `result` (stream-json prints it last, after
 * every message; `--output-format json` prints it alone). Null when the stream ended without one.
 */
function lastJson(stdout: string): ClaudeJson | null {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.includes('"result"')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value && typeof value === 'object' && !Array.isArray(value) && (value as ClaudeJson).type === 'result')
        return value as ClaudeJson;
    } catch {
      // not JSON: keep looking
    }
  }
  return null;
}

/** `api_error, HTTP 500` / `budget_exhausted` / `error_max_turns`: what kind of error the JSON reports. */
function errorKind(json: ClaudeJson): string {
  const reason = json.terminal_reason ?? (json.subtype && json.subtype !== 'success' ? json.subtype : 'error');
  return typeof json.api_error_status === 'number' ? `${reason}, HTTP ${json.api_error_status}` : reason;
}

/** claude adapter. */
export const claudeAgent: AgentAdapter = {
  kind: 'claude',
  launch(inv, env) {
    const s = inv.settings;
    // The prompt on stdin (`-p` without a prompt argument reads it there): an argument over 128 KiB is E2BIG.
    const args = ['-p', '--output-format', 'stream-json', '--verbose', '--model', s.model];
    if (s.effort) args.push('--effort', s.effort);
    args.push('--permission-mode', s.permissionMode);
    if (s.allowedTools.length > 0) args.push('--allowedTools', ...s.allowedTools);
    if (s.maxBudgetUsd !== null) args.push('--max-budget-usd', String(s.maxBudgetUsd));
    args.push(...s.agentArgs);
    return { file: env.CLAUDE_BIN || 'claude', args, env: {}, stdinFile: inv.promptFile };
  },
  parse(output): AgentOutcome {
    const { stdout, stderr, exitCode } = output;
    const json = lastJson(stdout);
    const text = typeof json?.result === 'string' ? json.result.trim() : '';
    const denials = (Array.isArray(json?.permission_denials) ? json.permission_denials : []).map((d) =>
      capEntry(`${d.tool_name ?? '?'} ${JSON.stringify(d.tool_input ?? {})}`),
    );
    let failure: string | null = null;
    if (!json) failure = `exited ${exitCode} without a JSON result: ${tail(stderr || stdout)}`;
    else if (json.is_error) {
      const errors = (json.errors ?? []).map(String).join('; ');
      failure = `claude reported an error (${errorKind(json)}): ${tail(text || errors || stderr)}`;
    } else if (exitCode !== 0) failure = `exited ${exitCode}: ${tail(stderr || text)}`;
    else if (text === '') failure = 'claude returned an empty result';
    return {
      ok: failure === null,
      text,
      failure,
      costUsd: json?.total_cost_usd ?? null,
      turns: json?.num_turns ?? null,
      sessionId: json?.session_id ?? null,
      usage: json?.usage ?? null,
      denials,
      ...outputFileOf(output),
    };
  },
};
