/** Judge an agent run by its outcome, its report, and git (the truth for files and commits). */
import type { AgentOutcome } from './agents/types.ts';
import { parseReport } from './agents/report.ts';
import { dirtyPaths, git } from './lib/git.ts';
import type { ItemResult, ItemStatus } from './lib/state-types.ts';

/** What git says about an item branch. */
export interface BranchFacts {
  readonly commits: ReadonlyArray<{ readonly sha: string; readonly subject: string }>;
  readonly files: readonly string[];
  readonly uncommitted: readonly string[];
  readonly headBranch: string | null;
}

/** Read the facts of `branch` since `base`, and the worktree's leftovers. */
export async function readBranchFacts(worktree: string, base: string, branch: string): Promise<BranchFacts> {
  const log = await git(worktree, ['log', '--format=%H%x09%s', `${base}..refs/heads/${branch}`]);
  const files = await git(worktree, ['diff', '--name-only', '--no-renames', base, `refs/heads/${branch}`]);
  const head = await git(worktree, ['symbolic-ref', '--short', '-q', 'HEAD']).catch(() => '');
  return {
    commits: log.split('\n').filter(Boolean).map((l) => ({ sha: l.slice(0, 40), subject: l.slice(41) })),
    files: files.split('\n').filter(Boolean),
    uncommitted: await dirtyPaths(worktree),
    headBranch: head || null,
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
export function judgeAttempt(outcome: AgentOutcome, facts: BranchFacts, branch: string): Verdict {
  const report = outcome.text ? parseReport(outcome.text) : null;
  const flags: string[] = [];
  if (report?.branch && report.branch !== branch) flags.push(`report names branch ${report.branch}, the item branch is ${branch}`);
  if (facts.headBranch !== branch) flags.push(`the worktree is on ${facts.headBranch ?? 'a detached HEAD'}, not ${branch}`);
  if (report && report.filesChanged.length > 0) {
    const { missing, extra } = sameSet(report.filesChanged, facts.files);
    if (extra.length) flags.push(`report lists files git does not show as changed: ${extra.join(', ')}`);
    if (missing.length) flags.push(`git shows changed files the report does not list: ${missing.join(', ')}`);
  }
  if (facts.uncommitted.length) flags.push(`uncommitted changes left in the worktree (never merged): ${facts.uncommitted.join(', ')}`);
  if (outcome.denials.length) flags.push(`tool calls denied: ${outcome.denials.join('; ')}`);
  const result = {
    report, commits: facts.commits, files: facts.files, uncommitted: facts.uncommitted, flags,
    costUsd: outcome.costUsd, turns: outcome.turns, sessionId: outcome.sessionId, usage: outcome.usage, denials: outcome.denials,
  };
  const fail = (failure: string): Verdict => ({ status: 'failed', failure, result });
  if (!outcome.ok) return fail(outcome.failure ?? 'agent failed');
  if (!report) return fail('the final text has no report (no STATUS line)');
  if (report.status === null) return fail('the report has no valid STATUS (COMPLETE, PARTIAL or FAILED)');
  if (report.status === 'FAILED') return fail(`agent reported FAILED${report.notes ? `: ${report.notes}` : ''}`);
  if (facts.commits.length === 0) return fail(`agent reported ${report.status} but committed nothing on ${branch}`);
  return { status: report.status === 'PARTIAL' ? 'partial' : 'complete', failure: null, result };
}
