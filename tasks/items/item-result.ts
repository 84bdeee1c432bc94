/** Judge an agent run by its outcome, its report, and git (the truth for files and commits). */
import type { AgentOutcome } from '../agents/types.ts';
import { boundReport, parseReport } from '../agents/completion-report.ts';
import { existsSync } from 'node:fs';
import {
  LIMITS,
  LIST_CAP,
  capEntry,
  capList,
  capText,
  fittingCount,
  moreMarker,
  oneLine,
  stripControl,
  type ListCap,
} from '../lib/bounded-text.ts';
import { headFileBranch } from '../lib/git-files.ts';
import { revParse } from '../lib/git.ts';
import { worktreeStatus } from '../lib/git-status.ts';
import { looseLinearLog } from '../lib/git-objects.ts';
import { readChange } from '../lib/git-change.ts';
import { gitLines } from '../lib/git-lines.ts';
import type { FailureCode, ItemResult, ItemStatus } from '../lib/state-types.ts';
import type { GuardFindings } from '../guards/agent-guards.ts';

/** One commit of an item branch. */
export interface CommitFact {
  readonly sha: string;
  readonly subject: string;
}

/** What git says about an item branch. */
export interface BranchFacts {
  /** The branch's commits since base, newest first: at most LIMITS.gitEntries of them (`commitCount` counts all). */
  readonly commits: readonly CommitFact[];
  readonly commitCount: number;
  /** Files changed since base: at most LIMITS.gitEntries of them (`fileCount` counts all). */
  readonly files: readonly string[];
  readonly fileCount: number;
  readonly uncommitted: readonly string[];
  /** How many uncommitted paths there are (`uncommitted` keeps the first of them). */
  readonly uncommittedCount?: number;
  readonly headBranch: string | null;
  /**
   * Why the worktree's `git status` could not be read (its uncommitted files are then unknown, and `headBranch` is
   * what its HEAD file names); null when it was read or there is no worktree.
   */
  readonly statusError?: string | null;
  readonly worktreeExists: boolean;
  /** What the facts were read since. */
  readonly base: string;
  /** The branch tip these facts were read at (what gets pinned when the attempt is judged good). */
  readonly tip: string | null;
  /** What the agent broke that git cannot read past: its branch or its worktree gone. */
  readonly missing: readonly string[];
}

/** `<sha>\t<subject>` as `git log --format=%H%x09%s` prints it. */
function commitOf(line: string): CommitFact {
  const tab = line.indexOf('\t');
  return tab < 0 ? { sha: line, subject: '' } : { sha: line.slice(0, tab), subject: stripControl(line.slice(tab + 1)) };
}

/**
 * Read the facts of `branch` since `base` (from the repository, so a deleted worktree does not hide them) and the
 * worktree's leftovers. An agent that deleted its branch or its worktree gets facts that say so, never an error:
 * one agent's mess must not stop the wave. Commits and files are streamed from git: an item with thousands of
 * them costs LIMITS.gitEntries entries of memory, the rest are counted.
 */
export async function readBranchFacts(
  repo: string,
  commonDir: string,
  worktree: string,
  base: string,
  branch: string,
): Promise<BranchFacts> {
  const missing: string[] = [];
  const here = existsSync(worktree);
  // One status gives the worktree's branch, its tip and its leftovers; the branch is read from the repository only
  // when the worktree is not on it (or is gone).
  let statusError: string | null = null;
  const status = here
    ? await worktreeStatus(worktree).catch((error: unknown) => {
        statusError = error instanceof Error ? error.message : String(error);
        return null;
      })
    : null;
  const tip = status?.branch === branch && status.head ? status.head : await revParse(repo, `refs/heads/${branch}`);
  // Without a status (git failed there, or was stopped waiting on a named pipe), which branch the worktree is on
  // still decides the checks of a protected branch checked out there: its HEAD file says it.
  const headBranch = status ? status.branch : here ? headFileBranch(worktree) : null;
  if (!tip) missing.push(`the item branch ${branch} is missing (deleted?)`);
  if (!here) missing.push(`the worktree ${worktree} is missing (deleted?)`);
  const none = { lines: [], total: 0 };
  // Both read fixed commits: side by side. The whole change is read once: the commit guards take the same text for
  // this base and tip (lib/git-change.ts).
  // The usual item (a few commits in a line on its base) is read from the loose objects its agent just wrote.
  const line = tip ? looseLinearLog(commonDir, tip, base, LIMITS.gitEntries) : null;
  const [log, change] = tip
    ? await Promise.all([
        line
          ? { lines: line.map((c) => `${c.sha}\t${c.subject}`), total: line.length }
          : gitLines(repo, ['log', '--format=%H%x09%s', `${base}..${tip}`], LIMITS.gitEntries),
        readChange(repo, base, tip),
      ])
    : [none, null];
  const changed = change ? change.files.map((f) => f.path) : [];
  const files = { lines: changed.slice(0, LIMITS.gitEntries), total: changed.length };
  return {
    commits: log.lines.map(commitOf),
    commitCount: log.total,
    files: files.lines,
    fileCount: files.total,
    uncommitted: status?.dirty ?? [],
    uncommittedCount: status?.dirty.total ?? 0,
    headBranch,
    statusError,
    worktreeExists: here,
    base,
    tip,
    missing,
  };
}

/** Where the whole of a cut report is: the run's stdout file. */
function outputWhere(outcome: AgentOutcome): string | undefined {
  return outcome.outputFile ? `full text in ${outcome.outputFile}` : undefined;
}

/**
 * The first commits that fit LIST_CAP; a last entry with an empty sha says how many more there are and how to list
 * them.
 */
function boundCommits(facts: BranchFacts): CommitFact[] {
  const n = fittingCount(facts.commits.map((c) => c.subject));
  const kept = facts.commits.slice(0, n).map((c) => ({ sha: c.sha, subject: capEntry(c.subject) }));
  if (facts.commitCount <= n) return kept;
  return [
    ...kept,
    {
      sha: '',
      subject: moreMarker(
        facts.commitCount - n,
        `full list: git log --oneline ${short(facts.base)}..${short(facts.tip)}`,
      ),
    },
  ];
}

const short = (sha: string | null) => (sha && /^[0-9a-f]{40,64}$/.test(sha) ? sha.slice(0, 12) : (sha ?? '?'));

/** `usage` when small; otherwise its top-level numbers only (a CLI's usage object is not ours to trust). */
function boundUsage(usage: Readonly<Record<string, unknown>> | null): Readonly<Record<string, unknown>> | null {
  if (usage === null || JSON.stringify(usage).length <= LIMITS.usageChars) return usage;
  const numbers = Object.entries(usage)
    .filter(([k, v]) => typeof v === 'number' && k.length <= 64)
    .slice(0, 16);
  return Object.fromEntries(numbers);
}

/** Flags, each one line and capped, at most LIMITS.flags of them. */
const FLAG_CAP: ListCap = {
  entries: LIMITS.flags,
  entryChars: LIMITS.flagChars,
  totalChars: LIMITS.flags * LIMITS.flagChars,
};

/** Room a flag's own words take before its list (the list is cut once, so its "(N more)" survives the flag cap). */
const FLAG_PREFIX_CHARS = 100;
const FLAG_LIST_CAP = { entries: 10, entryChars: 120, totalChars: LIMITS.flagChars - FLAG_PREFIX_CHARS };

/** A few entries of a list for a message: `a, b, c, … (N more)`. */
const some = (list: readonly string[]) => capList(list, FLAG_LIST_CAP).join(', ');

/** The verdict on one attempt. */
export interface Verdict {
  readonly status: Extract<ItemStatus, 'complete' | 'partial' | 'failed'>;
  readonly failure: string | null;
  readonly failureCode: FailureCode | null;
  readonly result: Omit<ItemResult, 'durationMs'>;
}

/**
 * Classify an attempt (git is the truth; docs/steps.md, "Guards"): COMPLETE without commits is failed; disagreements
 * with git are flagged. The result is what state keeps: every text and list in it is capped (docs/limits.md), cut ones
 * say where the rest is.
 */
export function judgeAttempt(
  outcome: AgentOutcome,
  facts: BranchFacts,
  branch: string,
  guards: GuardFindings = { violations: [], flags: [] },
  protectedBranches: readonly string[] = [],
): Verdict {
  const parsed = outcome.text ? parseReport(outcome.text) : null;
  const where = outputWhere(outcome);
  const report = parsed && boundReport(parsed, where);
  const flags: string[] = [];
  if (report?.branch && report.branch !== branch)
    flags.push(`report names branch ${report.branch}, the item branch is ${branch}`);
  flags.push(...facts.missing);
  if (facts.statusError)
    flags.push(`could not read the worktree's status, so its uncommitted files are unknown: ${facts.statusError}`);
  if (facts.headBranch !== branch && facts.worktreeExists)
    flags.push(`the worktree is on ${facts.headBranch ?? 'a detached HEAD'}, not ${branch}`);
  // A branch the runner relies on (main, integration, another item's) checked out in an item's worktree is how the
  // agent's commits would reach it.
  const foreign =
    facts.headBranch !== null && facts.worktreeExists && protectedBranches.includes(facts.headBranch)
      ? [`checked out ${facts.headBranch} in its worktree (an item works only on ${branch})`]
      : [];
  if (parsed && parsed.filesChanged.length > 0) {
    const reported = new Set(parsed.filesChanged);
    const changed = new Set(facts.files);
    // Only the whole list of git's files can show that a reported file is not among them.
    const extra = facts.fileCount > facts.files.length ? [] : parsed.filesChanged.filter((f) => !changed.has(f));
    const missing = facts.files.filter((f) => !reported.has(f));
    if (extra.length) flags.push(`report lists files git does not show as changed: ${some(extra)}`);
    if (missing.length) flags.push(`git shows changed files the report does not list: ${some(missing)}`);
  }
  if (facts.uncommitted.length)
    flags.push(`uncommitted changes left in the worktree (never merged): ${some(facts.uncommitted)}`);
  flags.push(...guards.flags);
  if (outcome.denials.length)
    flags.push(`tool calls denied: ${capList(outcome.denials, { ...FLAG_LIST_CAP, entries: 5 }).join('; ')}`);
  const result = {
    report,
    commits: boundCommits(facts),
    files: capList(
      facts.files,
      LIST_CAP,
      `full list: git diff --name-only ${short(facts.base)} ${short(facts.tip)}`,
      facts.fileCount,
    ),
    uncommitted: capList(
      facts.uncommitted,
      LIST_CAP,
      'see git status in the worktree',
      facts.uncommittedCount ?? facts.uncommitted.length,
    ),
    flags: capList(
      flags.map((f) => oneLine(f)),
      FLAG_CAP,
    ),
    costUsd: outcome.costUsd,
    turns: outcome.turns,
    sessionId: outcome.sessionId === null ? null : capEntry(outcome.sessionId),
    usage: boundUsage(outcome.usage),
    denials: capList(outcome.denials, LIST_CAP, where),
  };
  const fail = (failureCode: FailureCode, failure: string): Verdict => ({
    status: 'failed',
    failureCode,
    failure: capText(stripControl(failure), LIMITS.failureChars, where),
    result,
  });
  if (guards.violations.length || foreign.length) return fail('guard', [...foreign, ...guards.violations].join('; '));
  if (!outcome.ok) return fail(outcome.failureCode ?? 'agent-error', outcome.failure ?? 'agent failed');
  if (!report) return fail('no-report', 'the final text has no report (no STATUS line)');
  if (report.status === null) return fail('bad-report', 'the report has no valid STATUS (COMPLETE, PARTIAL or FAILED)');
  if (report.status === 'FAILED')
    return fail('report-failed', `agent reported FAILED${report.notes ? `: ${report.notes}` : ''}`);
  if (facts.commitCount === 0)
    return fail('no-commits', `agent reported ${report.status} but committed nothing on ${branch}`);
  return { status: report.status === 'PARTIAL' ? 'partial' : 'complete', failure: null, failureCode: null, result };
}
