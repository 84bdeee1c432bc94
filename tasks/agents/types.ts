/** The agent adapter interface: start → handle; parse → outcome. */
import { LIMITS, stripControl } from '../lib/bounded-text.ts';
import type { AgentKind, AgentSettings, ScriptedEdit } from '../lib/plan/types.ts';
import type { FailureCode } from '../lib/state-types.ts';

/** Why an agent runs: an item's work, a merge conflict, or a red gate. */
export type AgentRole = 'item' | 'conflict' | 'fix';

/** Everything an adapter needs to start one agent run. */
export interface AgentInvocation {
  readonly role: AgentRole;
  readonly issue: number;
  readonly title: string;
  readonly wave: number;
  readonly milestone: string;
  readonly worktree: string;
  readonly branch: string;
  readonly prompt: string;
  /** The prompt as a file (command agents read it from WM_PROMPT_FILE). */
  readonly promptFile: string;
  readonly settings: AgentSettings;
  readonly edits: readonly ScriptedEdit[];
}

/** A program to start: file, arguments, extra environment. */
export interface LaunchSpec {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /**
   * A file the program reads as its standard input (the prompt: never an argument, which the kernel limits to
   * 128 KiB); without one, stdin is /dev/null. Either way stdin ends, so a program reading it does not wait.
   */
  readonly stdinFile?: string;
}

/** What a run left: the bounded tails of its output files (tasks/executors/local/process.ts `readOutput`). */
export interface AgentOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** The stdout file, which keeps the whole output. */
  readonly stdoutFile?: string;
}

/** What an agent's output says once its process has ended. */
export interface AgentOutcome {
  /** Exit 0, a non-empty result and no error flag. */
  readonly ok: boolean;
  /** The final text: the report. */
  readonly text: string;
  /** Why it failed: the last lines of stderr, or the CLI's error. */
  readonly failure: string | null;
  /** The failure's code when it is not the adapter's (`agent-error`): a timeout, a process that died. */
  readonly failureCode?: Extract<FailureCode, 'timeout' | 'output-limit' | 'lost'>;
  readonly costUsd: number | null;
  readonly turns: number | null;
  readonly sessionId: string | null;
  readonly usage: Readonly<Record<string, unknown>> | null;
  /** Tool calls the agent was denied. */
  readonly denials: readonly string[];
  /** Where the whole output is kept (what cut texts point to). */
  readonly outputFile?: string;
}

/** One adapter per agent kind. */
export interface AgentAdapter {
  readonly kind: AgentKind;
  /** How to start it; `env` is the environment the agent will get (binaries like CLAUDE_BIN come from it). */
  launch(invocation: AgentInvocation, env: NodeJS.ProcessEnv): LaunchSpec;
  parse(output: AgentOutput & { readonly exitCode: number }): AgentOutcome;
}

/** An outcome with nothing but text and exit code (command, scripted). */
export function plainOutcome(output: AgentOutput & { readonly exitCode: number }): AgentOutcome {
  const { stdout, stderr, exitCode } = output;
  const text = stdout.trim();
  const failure =
    exitCode !== 0
      ? `exited ${exitCode}: ${tail(stderr || stdout)}`
      : text === ''
        ? `printed nothing${stderr.trim() ? `: ${tail(stderr)}` : ''}`
        : null;
  return {
    ok: failure === null,
    text,
    failure,
    costUsd: null,
    turns: null,
    sessionId: null,
    usage: null,
    denials: [],
    ...outputFileOf(output),
  };
}

/** `{outputFile}` when the output came from a file. */
export function outputFileOf(output: AgentOutput): { outputFile?: string } {
  return output.stdoutFile ? { outputFile: output.stdoutFile } : {};
}

/** Last lines of a text, for failure messages: at most `lines` lines and LIMITS.tailChars characters. */
export function tail(text: string, lines: number = LIMITS.tailLines): string {
  // Only the end is looked at: the text may be megabytes of one line.
  const end = stripControl(text.slice(-LIMITS.tailChars * 4)).trim();
  const last = end.split('\n').slice(-lines).join('\n');
  return last.length > LIMITS.tailChars ? `…${last.slice(-(LIMITS.tailChars - 1))}` : last;
}
