/**
 * A state rebuilt from what is on disk, for a `state.json` that was lost or clobbered and has no usable backup: each
 * item's attempts from its files under `items/<issue>/` (the judged result of its last attempt, an attempt whose agent
 * still runs — found through its pid file — or one that ended while no runner watched), its branch and pin from git,
 * merges from the integration branch, a landing from main's history, the stash prepare made from the stash list.
 * What it cannot know (the plan's validation, the cached items, relays, gate results) is left for the steps to redo:
 * each converges from git and files, as after a crash.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { gitRaw, revParse } from '../lib/git.ts';
import { integrationWorktreeOf, itemBranchOf, itemDirOf, itemWorktreeOf } from '../lib/paths.ts';
import { listItems, type Plan, type PlanItem } from '../lib/plan/types.ts';
import type { Draft } from '../lib/state.ts';
import {
  emptyItem,
  emptyState,
  FAILURE_CODES,
  type FailureCode,
  type ItemState,
  type State,
} from '../lib/state-types.ts';
import { findLiveAgents, readHead, type LiveAgent } from '../executors/local/live-agents.ts';
import { mergeMessage } from '../merging/merge-item.ts';
import { stashMessage } from '../steps/prepare.ts';
import { readRegularFileSync } from '../lib/regular-file.ts';

/** What a rebuild reads. */
export interface RebuildInput {
  readonly stateDir: string;
  readonly repo: string;
  readonly plan: Plan;
}

/** How far back main's history is searched for the landing commit, and integration's for item merges. */
const HISTORY_LIMIT = 2000;

/** The highest attempt number an item's files show (`prompt-<k>.md`, `item-<k>.*`, `result-<k>.json`), 0 for none. */
function highestAttempt(names: readonly string[]): number {
  let k = 0;
  for (const name of names) {
    const m = /^(?:item-(\d+)\.(?:pid|exit|stdout|stderr)|prompt-(\d+)\.md|result-(\d+)\.json)$/.exec(name);
    if (m) k = Math.max(k, Number(m[1] ?? m[2] ?? m[3]));
  }
  return k;
}

/** The verdict file of an attempt, as finishItemAttempt wrote it, or null. */
function readVerdict(file: string): {
  status: 'complete' | 'partial' | 'failed';
  failure: string | null;
  failureCode: FailureCode | null;
  result: Draft<NonNullable<ItemState['result']>>;
  at: string;
} | null {
  try {
    const data = JSON.parse(readRegularFileSync(file)) as {
      status?: unknown;
      failure?: unknown;
      failureCode?: unknown;
      result?: unknown;
      durationMs?: unknown;
    };
    if (data.status !== 'complete' && data.status !== 'partial' && data.status !== 'failed') return null;
    if (!data.result || typeof data.result !== 'object') return null;
    const durationMs = typeof data.durationMs === 'number' ? data.durationMs : 0;
    return {
      status: data.status,
      failure: typeof data.failure === 'string' ? data.failure : null,
      failureCode: FAILURE_CODES.find((c) => c === data.failureCode) ?? null,
      result: { ...(data.result as object), durationMs } as Draft<NonNullable<ItemState['result']>>,
      at: statSync(file).mtime.toISOString(),
    };
  } catch {
    return null;
  }
}

/** `<sha> <parents…>\t<subject>` lines of the first-parent history of `rev`. */
async function firstParentLog(
  repo: string,
  rev: string,
): Promise<Array<{ sha: string; parents: string[]; subject: string; at: string }>> {
  const out = await gitRaw(repo, ['log', '--first-parent', `-n${HISTORY_LIMIT}`, '--format=%H %P%x09%cI%x09%s', rev]);
  if (out.exitCode !== 0) return [];
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [ids = '', at = '', ...subject] = line.split('\t');
      const [sha = '', ...parents] = ids.trim().split(' ');
      return { sha, parents, at, subject: subject.join('\t') };
    });
}

/** The landing commit of this milestone on main (`Merge milestone <N>: …`, two parents), the latest one. */
async function findLanding(
  repo: string,
  plan: Plan,
): Promise<{ commit: string; mainBefore: string; integration: string; at: string } | null> {
  const main = await revParse(repo, `refs/heads/${MAIN_BRANCH}`);
  if (!main) return null;
  const prefix = `Merge milestone ${plan.milestone.id}: `;
  const found = (await firstParentLog(repo, main)).find((c) => c.subject.startsWith(prefix) && c.parents.length === 2);
  if (!found) return null;
  return {
    commit: found.sha,
    mainBefore: found.parents[0] as string,
    integration: found.parents[1] as string,
    at: found.at,
  };
}

/** Item merges (`Merge #42: …`) on the first-parent history of `rev` by subject. */
async function itemMerges(repo: string, rev: string | null): Promise<Map<string, string>> {
  const merges = new Map<string, string>();
  if (!rev) return merges;
  for (const c of await firstParentLog(repo, rev))
    if (c.subject.startsWith('Merge #') && !merges.has(c.subject)) merges.set(c.subject, c.sha);
  return merges;
}

/** The stash prepare made since the milestone's first run (`work-milestone: pre-run <branch>`), or null. */
async function findStash(repo: string, stateDir: string): Promise<{ sha: string; branch: string; at: string } | null> {
  let since: number | null = null;
  try {
    const first = readHead(path.join(stateDir, 'events.jsonl'), 65536)
      .split('\n')
      .find((l) => l.includes('"run-start"'));
    if (first) since = Date.parse((JSON.parse(first) as { t: string }).t);
  } catch {
    return null;
  }
  if (since === null || Number.isNaN(since)) return null;
  const out = await gitRaw(repo, ['stash', 'list', '--format=%H %ct %gs']);
  for (const line of out.stdout.split('\n')) {
    const [sha, time, ...rest] = line.split(' ');
    const message = rest.join(' ');
    const branch = /work-milestone: pre-run (.+)$/.exec(message)?.[1];
    if (sha && branch && message.endsWith(stashMessage(branch)) && Number(time) * 1000 >= since - 1000) {
      return { sha, branch, at: new Date(Number(time) * 1000).toISOString() };
    }
  }
  return null;
}

/** The merge-base of two commits, or null. */
async function mergeBase(repo: string, a: string, b: string): Promise<string | null> {
  const out = await gitRaw(repo, ['merge-base', a, b]);
  return out.exitCode === 0 ? out.stdout.trim() || null : null;
}

/** One item as its files and git show it. */
async function rebuildItem(
  input: RebuildInput,
  item: PlanItem,
  facts: {
    readonly integrationHead: string | null;
    readonly live: readonly LiveAgent[];
    readonly merges: ReadonlyMap<string, string>;
  },
): Promise<{ item: Draft<ItemState>; finishedAt: string | null }> {
  const { stateDir, repo, plan } = input;
  const it = structuredClone(emptyItem(item.issue, item.wave)) as Draft<ItemState>;
  const dir = itemDirOf(stateDir, item.issue);
  const names = existsSync(dir) ? readdirSync(dir) : [];
  const branch = itemBranchOf(plan, item);
  const tip = await revParse(repo, `refs/heads/${branch}`);
  if (tip) {
    it.branch = branch;
    it.worktree = itemWorktreeOf(repo, plan, item);
    // Where the item started: the point its branch left integration (as the worktrees step finds it for a kept branch).
    it.base = facts.integrationHead ? await mergeBase(repo, tip, facts.integrationHead) : null;
  }
  const k = highestAttempt(names);
  const agent = facts.live.filter((a) => a.kind === 'item' && a.issue === item.issue && (a.attempt ?? 0) >= k).pop();
  const verdict = k > 0 && names.includes(`result-${k}.json`) ? readVerdict(path.join(dir, `result-${k}.json`)) : null;
  let finishedAt: string | null = null;
  if (agent) {
    // Its agent still runs: the item is in progress, and the runner waits for that agent (never starts another).
    it.status = 'in-progress';
    it.attempts = agent.attempt ?? k;
    it.process = {
      pid: agent.pid,
      startTime: agent.startTime,
      startedAt: agent.startedAt,
      attempt: it.attempts,
      timeoutMs: item.settings.timeoutMs,
    };
  } else if (verdict) {
    it.attempts = k;
    it.status = verdict.status;
    it.failure = verdict.failure;
    it.failureCode = verdict.failureCode;
    it.result = verdict.result;
    finishedAt = verdict.at;
    it.finishedAt = verdict.at;
    if (verdict.status !== 'failed')
      it.pinned = await revParse(repo, `refs/work-milestone/${plan.milestone.id}/items/${item.issue}`);
    const merged = facts.merges.get(mergeMessage(item));
    if (merged && verdict.status !== 'failed')
      it.merge = {
        kind: 'clean',
        sha: merged,
        files: [],
        note: 'found merged when the state was rebuilt',
        followUp: null,
      };
  } else if (names.includes(`item-${k}.pid`) || names.includes(`item-${k}.exit`)) {
    // Started and ended (or died) while no runner watched: wait judges what its files say.
    it.status = 'in-progress';
    it.attempts = k;
  } else if (k > 0) {
    // Recorded but never started (a crash before its process): it does not count.
    it.attempts = k - 1;
  }
  return { item: it, finishedAt };
}

/** Rebuild the state of a milestone from its files and git. */
export async function rebuildState(input: RebuildInput): Promise<State> {
  const { stateDir, repo, plan } = input;
  const integrationHead = await revParse(repo, `refs/heads/${plan.milestone.integrationBranch}`);
  const landing = await findLanding(repo, plan);
  const live = findLiveAgents(stateDir);
  const merges = await itemMerges(repo, integrationHead ?? (landing ? landing.integration : null));
  const state = structuredClone(emptyState(plan.milestone.id)) as Draft<State>;
  const finished: Array<{ issue: number; at: string }> = [];
  for (const item of listItems(plan)) {
    const { item: it, finishedAt } = await rebuildItem(input, item, { integrationHead, live, merges });
    state.items[String(item.issue)] = it;
    if (finishedAt) finished.push({ issue: item.issue, at: finishedAt });
  }
  // The merge queue takes items in the order they finished.
  finished.sort((a, b) => a.at.localeCompare(b.at) || a.issue - b.issue);
  for (const f of finished) {
    state.seq += 1;
    const it = state.items[String(f.issue)];
    if (it) it.finishSeq = state.seq;
  }
  const stash = await findStash(repo, stateDir);
  if (stash) state.prepare = { kind: 'stashed', ...stash };
  if (landing) {
    const originMain = await revParse(repo, `refs/remotes/origin/${MAIN_BRANCH}`);
    const pushed =
      originMain !== null &&
      (await gitRaw(repo, ['merge-base', '--is-ancestor', landing.commit, originMain])).exitCode === 0;
    state.landing = {
      commit: landing.commit,
      mainBefore: landing.mainBefore,
      integration: landing.integration,
      at: landing.at,
    };
    state.land = {
      mainBefore: landing.mainBefore,
      mainAfter: landing.commit,
      integration: landing.integration,
      pushed,
      at: landing.at,
    };
    const report = path.join(stateDir, 'report.md');
    if (!integrationHead && existsSync(report)) {
      // Landed and completed (its integration branch removed): nothing is left to redo.
      const at = statSync(report).mtime.toISOString();
      state.plan = { hash: plan.hash, file: plan.file, validatedAt: at };
      state.branch = {
        name: plan.milestone.integrationBranch,
        base: landing.mainBefore,
        worktree: integrationWorktreeOf(repo, plan),
        at,
      };
      state.complete = { at, report };
    }
  }
  return state as State;
}
