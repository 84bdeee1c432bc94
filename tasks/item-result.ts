/** Judge an agent run by its outcome, its report, and git (the truth for files and commits). */
import type { AgentOutcome } from './agents/types.ts';
import { parseReport } from './agents/report.ts';
import { existsSync } from 'node:fs';
import { dirtyPaths, git, revParse } from './lib/git.ts';
import type { ItemResult, ItemStatus } from './lib/state-types.ts';
import type { GuardFindings } from './guards.ts';

/** What git says about an item branch. */
export interface BranchFacts {
  readonly commits: ReadonlyArray<{ readonly sha: string; readonly subject: string }>;
  readonly files: readonly string[];
  readonly uncommitted: readonly string[];
  readonly headBranch: string | null;
  readonly worktreeExists: boolean;
  /** The branch tip these facts were read at (what gets pinned when the attempt is judged good). */
  readonly tip: string | null;
  /** What the agent broke that git cannot read past: its branch or its worktree gone. */
  readonly missing: readonly string[];
}

/**
 * Read the facts of `branch` since `base` (from the repository, so a deleted worktree does not hide them) and the
 * worktree's leftovers. An agent that deleted its branch or its worktree gets facts that say so, never an error:
 * one agent's mess must not stop the wave.
 */
export async function readBranchFacts(repo: string, worktree: string, base: string, branch: string): Promise<BranchFacts> {
  const missing: string[] = [];
  const tip = await revParse(repo, `refs/heads/${branch}`);
  if (!tip) missing.push(`the item branch ${branch} is missing (deleted?)`);
  const here = existsSync(worktree);
  if (!here) missing.push(`the worktree ${worktree} is missing (deleted?)`);
  const log = tip ? await git(repo, ['log', '--format=%H%x09%s', `${base}..${tip}`]) : '';
  const files = tip ? await git(repo, ['diff', '--name-only', '--no-renames', base, tip]) : '';
  const head = here ? await git(worktree, ['symbolic-ref', '--short', '-q', 'HEAD']).catch(() => '') : '';
  return {
    commits: log.split('\n').filter(Boolean).map((l) => ({ sha: l.slice(0, 40), subject: l.slice(41) })),
    files: files.split('\n').filter(Boolean),
    uncommitted: here ? await dirtyPaths(worktree).catch(() => []) : [],
    headBranch: head || null,
    worktreeExists: here,
    tip,
    missing,
  };
}

/** The verdict on one attempt. */
export interface Verdict {
  readonly status: Extract<ItemStatus, 'complete' | 'partial' | 'failed'>;
  readonly failure: string | null;
  readonly result: Omit<ItemResult, 'durationMs'>;
}

function sameSet(a: readonly string[], b: readonly string[]): { missing: string[]; extra: string[] } {
  return { missing: b.filter((x) => !a.includes(x)), extra: a.filter((x) => !b.includes(x)) };
}

/** Classify an attempt (DESIGN §5): COMPLETE without commits is failed; disagreements with git are flagged. */
export function judgeAttempt(
  outcome: AgentOutcome,
  facts: BranchFacts,
  branch: string,
  guards: GuardFindings = { violations: [], flags: [] },
  protectedBranches: readonly string[] = [],
): Verdict {
  const report = outcome.text ? parseReport(outcome.text) : null;
  const flags: string[] = [];
  if (report?.branch && report.branch !== branch) flags.push(`report names branch ${report.branch}, the item branch is ${branch}`);
  flags.push(...facts.missing);
  if (facts.headBranch !== branch && facts.worktreeExists) flags.push(`the worktree is on ${facts.headBranch ?? 'a detached HEAD'}, not ${branch}`);
  // A branch the runner relies on (main, integration, another item's) checked out in an item's worktree is how the
  // agent's commits would reach it.
  const foreign = facts.headBranch !== null && facts.worktreeExists && protectedBranches.includes(facts.headBranch) ? [`checked out ${facts.headBranch} in its worktree (an item works only on ${branch})`] : [];
  if (report && report.filesChanged.length > 0) {
    const { missing, extra } = sameSet(report.filesChanged, facts.files);
    if (extra.length) flags.push(`report lists files git does not show as changed: ${extra.join(', ')}`);
    if (missing.length) flags.push(`git shows changed files the report does not list: ${missing.join(', ')}`);
  }
  if (facts.uncommitted.length) flags.push(`uncommitted changes left in the worktree (never merged): ${facts.uncommitted.join(', ')}`);
  flags.push(...guards.flags);
  if (outcome.denials.length) flags.push(`tool calls denied: ${outcome.denials.join('; ')}`);
  const result = {
    report, commits: facts.commits, files: facts.files, uncommitted: facts.uncommitted, flags,
    costUsd: outcome.costUsd, turns: outcome.turns, sessionId: outcome.sessionId, usage: outcome.usage, denials: outcome.denials,
  };
  const fail = (failure: string): Verdict => ({ status: 'failed', failure, result });
  if (guards.violations.length || foreign.length) return fail([...foreign, ...guards.violations].join('; '));
  if (!outcome.ok) return fail(outcome.failure ?? 'agent failed');
  if (!report) return fail('the final text has no report (no STATUS line)');
  if (report.status === null) return fail('the report has no valid STATUS (COMPLETE, PARTIAL or FAILED)');
  if (report.status === 'FAILED') return fail(`agent reported FAILED${report.notes ? `: ${report.notes}` : ''}`);
  if (facts.commits.length === 0) return fail(`agent reported ${report.status} but committed nothing on ${branch}`);
  return { status: report.status === 'PARTIAL' ? 'partial' : 'complete', failure: null, result };
}
