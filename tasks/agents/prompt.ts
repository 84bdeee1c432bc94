/**
 * Prompts: what an agent is told (docs/limits.md, "Relay and prompts"). A `prompt-template` file may replace the item
 * prompt. Prompts reach agents as files (stdin, WM_PROMPT_FILE), never as arguments; what came from agents is capped
 * (docs/limits.md).
 */
import { LIMITS, capText, oneLine, stripControl } from '../lib/bounded-text.ts';
import type { CachedItem } from '../lib/state-types.ts';
import type { Gate } from '../lib/plan/types.ts';

/** The report format every prompt ends with. */
export const REPORT_FORMAT = `When you are done, end your final message with this report, exactly in this format:

STATUS: COMPLETE | PARTIAL | FAILED
BRANCH: <branch>
FILES_CHANGED:
<one path per line>
COMMITS:
<short hash and message, one per line>
TASKS_BLOCKED: <ids or none>
NOTES: <design decisions, deviations, what the next wave should know>`;

/** At most this many characters of labels, and of priority, in a prompt. */
const TRIAGE_CHARS = 500;

/** What goes into an item prompt. */
export interface ItemPromptInput {
  readonly item: CachedItem;
  readonly milestone: string;
  readonly wave: number;
  readonly worktree: string;
  readonly branch: string;
  readonly gates: readonly Gate[];
  readonly relay: string;
  /** Why the previous attempt failed, for a retry. */
  readonly previousFailure: string | null;
  /** The folders of the worktree that are links to the user's own (`node_modules`, `.venv`); absent = none. */
  readonly linked?: readonly string[];
  /** The milestone's plan file and backlog folder (repository paths), for the agent to leave alone; absent = none. */
  readonly runnerFiles?: readonly string[];
}

function section(item: CachedItem, ...names: string[]): string {
  for (const name of names) {
    const found = Object.entries(item.sections).find(([k]) => k.toLowerCase() === name.toLowerCase());
    if (found) return found[1];
  }
  return '';
}

/** Placeholder names a template may use. */
export type PromptKey =
  | 'issue'
  | 'title'
  | 'milestone'
  | 'wave'
  | 'worktree'
  | 'branch'
  | 'description'
  | 'acceptance_criteria'
  | 'body'
  | 'gates'
  | 'relay'
  | 'previous_failure'
  | 'report_format'
  | 'labels'
  | 'priority'
  | 'shared_folders'
  | 'runner_files';

/** Values for `{{name}}` placeholders of a template. */
export function promptValues(input: ItemPromptInput): Record<PromptKey, string> {
  const gates = input.gates.map((g) => `- ${g.run}`).join('\n') || '- (no gates configured)';
  return {
    issue: String(input.item.issue),
    title: oneLine(input.item.title),
    milestone: input.milestone,
    wave: String(input.wave),
    worktree: input.worktree,
    branch: input.branch,
    description: section(input.item, 'Description', 'Summary') || input.item.body,
    acceptance_criteria: section(input.item, 'Acceptance Criteria', 'Acceptance criteria'),
    body: input.item.body,
    gates,
    relay: capText(input.relay, LIMITS.relayPromptChars),
    previous_failure: capText(input.previousFailure ?? '', LIMITS.previousFailureChars),
    report_format: REPORT_FORMAT,
    // Anyone who may triage the backlog writes these: one line each, and bounded.
    labels: capText((input.item.labels ?? []).map(oneLine).join(', '), TRIAGE_CHARS),
    priority: capText(oneLine(input.item.priority ?? ''), TRIAGE_CHARS),
    shared_folders: sharedFoldersRule(input.linked ?? []),
    runner_files: runnerFilesRule(input.runnerFiles ?? []),
  };
}

/** What an agent is told about the milestone's own files: the runner's (an item that changes them fails). */
function runnerFilesRule(files: readonly string[]): string {
  if (files.length === 0) return '';
  return (
    `Do not change ${files.map((f) => `\`${f}\``).join(' or ')}: they are the milestone's plan and backlog, kept by ` +
    'the runner (it marks items done when they land); say what you found in your report instead.'
  );
}

/**
 * What an agent is told about the dependency folders its worktree links to: the user's own, which the gates read
 * too; an install into them would change them for the user and every other agent (and stops the run before the
 * gates). Removing the link removes only the link, and leaves the agent free to install a copy of its own.
 */
function sharedFoldersRule(linked: readonly string[]): string {
  if (linked.length === 0) return '';
  const names = linked.map((f) => `\`${f}\``).join(' and ');
  const one = linked.length === 1;
  return (
    `${names} in your worktree ${one ? 'is a link' : 'are links'} to the user's own: use ${one ? 'it' : 'them'} ` +
    `as ${one ? 'it is' : 'they are'}, never install into or edit ${one ? 'it' : 'them'} (the run stops when ` +
    `${one ? 'it changes' : 'they change'}). To change dependencies, first remove the link (\`rm ${linked[0]}\` ` +
    'removes only the link), then install a copy of your own in the worktree.'
  );
}

/** Fill `{{name}}` placeholders; unknown names stay as they are. */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? (values[name] as string) : whole,
  );
}

/** The built-in item prompt, or the template filled; without NUL or other control characters but tab and newline. */
export function buildItemPrompt(input: ItemPromptInput, template: string | null): string {
  const v = promptValues(input);
  if (template) return stripControl(fillTemplate(template, v));
  const parts = [
    `You are working on Issue #${v.issue}: ${v.title} (milestone ${v.milestone}, wave ${v.wave}).`,
    // The backlog's triage (GitHub labels, the plan's priority) tells the agent how much the item matters.
    [v.priority && `Priority: ${v.priority}.`, v.labels && `Labels: ${v.labels}.`].filter(Boolean).join(' '),
    `Your git worktree is ${v.worktree}, on branch ${v.branch}. Work only inside it. Commit your work on this branch with git (several commits are fine); do not push, do not switch branches, do not merge other branches into it (only the integration branch, if you must), do not touch other worktrees.`,
    v.shared_folders,
    v.runner_files,
    `## Description\n${v.description.trim() || '(none)'}`,
    v.acceptance_criteria.trim() ? `## Acceptance Criteria\n${v.acceptance_criteria.trim()}` : '',
    `## Before you report\nRun these quality gates in the worktree and make them pass:\n${v.gates}`,
    v.relay.trim() ? v.relay.trim() : '',
    v.previous_failure
      ? `## Previous attempt failed\n${v.previous_failure}\nStart from what is committed on the branch and finish the work.`
      : '',
    REPORT_FORMAT,
  ];
  return stripControl(parts.filter(Boolean).join('\n\n') + '\n');
}
