/** What the scripted model answers the real claude CLI: tool-call steps, reports, and the demo items' scripts. */
import type { ScriptStep, ScriptedAgent } from './model-server.ts';
import type { DemoItem } from './sample-project.ts';

/** A string quoted for `sh`. */
export const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A Bash tool call. */
export const bash = (command: string): ScriptStep => ({ tool: 'Bash', input: { command } });

/** A Write tool call (a relative path is resolved against the CLI's working directory by the server). */
export const write = (filePath: string, content: string): ScriptStep => ({
  tool: 'Write',
  input: { file_path: filePath, content },
});

/** An Edit tool call. */
export const edit = (filePath: string, oldString: string, newString: string): ScriptStep => ({
  tool: 'Edit',
  input: { file_path: filePath, old_string: oldString, new_string: newString },
});

/** `git add -A && git commit -m MESSAGE` as a Bash tool call. */
export const commitAll = (message: string): ScriptStep => bash(`git add -A && git commit -q -m ${shQuote(message)}`);

/** The fields of an agent's report (README, "Agents"). */
export interface ReportFields {
  readonly status: 'COMPLETE' | 'PARTIAL' | 'FAILED';
  readonly branch?: string;
  readonly files?: readonly string[];
  readonly commits?: readonly string[];
  readonly blocked?: readonly string[];
  readonly notes?: string;
}

/** The final answer: some prose, then the report. */
export function reportStep(r: ReportFields): ScriptStep {
  const lines = ['Done.', '', `STATUS: ${r.status}`];
  if (r.branch) lines.push(`BRANCH: ${r.branch}`);
  lines.push('FILES_CHANGED:', ...(r.files ?? []));
  lines.push('COMMITS:', ...(r.commits ?? []));
  lines.push(`TASKS_BLOCKED: ${r.blocked?.length ? r.blocked.join(', ') : 'none'}`);
  lines.push(`NOTES: ${r.notes ?? 'none'}`);
  return { text: lines.join('\n') };
}

/** The tool calls and final report of one item's agent. */
export function demoAgent(item: DemoItem, branch: string): ScriptedAgent {
  const steps: ScriptStep[] = [];
  for (const e of item.edits) {
    if (e.content !== undefined) steps.push(write(e.path, e.content));
    if (e.append !== undefined) steps.push(bash(`printf '%s' ${shQuote(e.append)} >> ${shQuote(e.path)}`));
  }
  const message = `feat: ${item.title} (#${item.issue})`;
  steps.push(commitAll(message));
  steps.push(
    reportStep({
      status: 'COMPLETE',
      branch,
      files: [...new Set(item.edits.map((e) => e.path))],
      commits: [message],
      notes: `implemented ${item.title.toLowerCase()} as described; tests added where it has code.`,
    }),
  );
  return { match: `Issue #${item.issue}:`, steps };
}
