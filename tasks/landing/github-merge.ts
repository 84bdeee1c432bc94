/**
 * Merges GitHub makes itself, through the GraphQL API: a pull request enqueued in main's merge queue
 * (`enqueuePullRequest`) or with auto-merge enabled (`enablePullRequestAutoMerge`, merge commit), then waited for
 * until GitHub merged it. The pull request's state is read before either is asked for, so a run killed after
 * enqueuing or enabling waits for it instead of asking twice.
 */
import type { Ctx } from '../engine/context.ts';
import type { Progress } from '../engine/step.ts';
import { NeedsAttentionError } from '../lib/errors.ts';
import { MAIN_BRANCH } from '../lib/paths.ts';
import { headChecksOf, judgeChecks } from './head-checks.ts';
import { call, firstPoll, MAX_POLL_MS, pause, type PullSession } from './pull-session.ts';

/** A pull request as GitHub's merge machinery sees it. */
export interface PullMergeState {
  /** GraphQL node id. */
  readonly id: string;
  readonly state: 'OPEN' | 'CLOSED' | 'MERGED';
  readonly mergeCommit: string | null;
  /** Auto-merge is enabled. */
  readonly autoMerge: boolean;
  /** In the merge queue, at this position; null when not queued. */
  readonly queuePosition: number | null;
  /** GitHub's reason of the latest removal from the merge queue, and of auto-merge turned off. */
  readonly removedBecause: string | null;
  readonly autoMergeOffBecause: string | null;
}

/** How GitHub merges: through main's merge queue, or by auto-merge once the checks pass. */
export type GithubMerge = 'queue' | 'auto-merge';

const STATE_QUERY = `query pullMergeState($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id
      state
      mergeCommit { oid }
      autoMergeRequest { enabledAt }
      mergeQueueEntry { position }
      removed: timelineItems(last: 1, itemTypes: [REMOVED_FROM_MERGE_QUEUE_EVENT]) {
        nodes { ... on RemovedFromMergeQueueEvent { reason } }
      }
      autoMergeOff: timelineItems(last: 1, itemTypes: [AUTO_MERGE_DISABLED_EVENT]) {
        nodes { ... on AutoMergeDisabledEvent { reason } }
      }
    }
  }
}`;

interface StateAnswer {
  readonly repository: {
    readonly pullRequest: {
      readonly id: string;
      readonly state: 'OPEN' | 'CLOSED' | 'MERGED';
      readonly mergeCommit: { readonly oid: string } | null;
      readonly autoMergeRequest: { readonly enabledAt: string | null } | null;
      readonly mergeQueueEntry: { readonly position: number } | null;
      readonly removed: { readonly nodes: ReadonlyArray<{ readonly reason?: string | null } | null> | null };
      readonly autoMergeOff: { readonly nodes: ReadonlyArray<{ readonly reason?: string | null } | null> | null };
    } | null;
  } | null;
}

/** GraphQL errors (HTTP 200 with `errors`) as GitHub's message; other failures go to `call`. */
async function graphql<T>(s: PullSession, action: string, query: string, variables: Record<string, unknown>) {
  return call(s, action, 'pull requests', async () => {
    try {
      return await s.client.graphql<T>(query, variables);
    } catch (error) {
      const errors = (error as { errors?: ReadonlyArray<{ readonly message?: string }> }).errors;
      if (!Array.isArray(errors)) throw error;
      throw new NeedsAttentionError(
        `GitHub refused to ${action}: ${errors.map((e) => e.message ?? '').join('; ')}; nothing was landed; see to ` +
          'it on GitHub, then run again',
        { cause: error },
      );
    }
  });
}

/** The merge state of pull request `number`. */
export async function pullMergeStateOf(s: PullSession, number: number): Promise<PullMergeState> {
  const answer = await graphql<StateAnswer>(s, `read the merge state of pull request #${number}`, STATE_QUERY, {
    owner: s.owner,
    name: s.repo,
    number,
  });
  const pull = answer.repository?.pullRequest;
  if (!pull)
    throw new NeedsAttentionError(`GitHub has no pull request #${number} in ${s.owner}/${s.repo} any more; run again`);
  const reason = (nodes: ReadonlyArray<{ readonly reason?: string | null } | null> | null) =>
    nodes?.at(-1)?.reason ?? null;
  return {
    id: pull.id,
    state: pull.state,
    mergeCommit: pull.mergeCommit?.oid ?? null,
    autoMerge: pull.autoMergeRequest !== null,
    queuePosition: pull.mergeQueueEntry?.position ?? null,
    removedBecause: reason(pull.removed.nodes),
    autoMergeOffBecause: reason(pull.autoMergeOff.nodes),
  };
}

/** Ask GitHub to merge pull request `id` (head `head`, so a head that moved is refused) its way. */
export async function askGithubToMerge(s: PullSession, how: GithubMerge, id: string, url: string, head: string) {
  if (how === 'queue')
    await graphql(
      s,
      `add ${url} to the merge queue of ${MAIN_BRANCH}`,
      `
        mutation enqueue($id: ID!, $head: GitObjectID!) {
          enqueuePullRequest(input: { pullRequestId: $id, expectedHeadOid: $head }) {
            mergeQueueEntry {
              id
            }
          }
        }
      `,
      { id, head },
    );
  else
    await graphql(
      s,
      `enable auto-merge of ${url}`,
      `
        mutation autoMerge($id: ID!, $head: GitObjectID!) {
          enablePullRequestAutoMerge(input: { pullRequestId: $id, expectedHeadOid: $head, mergeMethod: MERGE }) {
            pullRequest {
              id
            }
          }
        }
      `,
      { id, head },
    );
}

async function disableAutoMerge(s: PullSession, id: string, url: string): Promise<void> {
  await graphql(
    s,
    `turn off auto-merge of ${url}`,
    `
      mutation autoMergeOff($id: ID!) {
        disablePullRequestAutoMerge(input: { pullRequestId: $id }) {
          pullRequest {
            id
          }
        }
      }
    `,
    { id },
  );
}

/** What waiting for GitHub's own merge needs to know. */
export interface GithubMergeWait {
  readonly how: GithubMerge;
  readonly number: number;
  readonly url: string;
  readonly head: string;
  readonly required: readonly string[] | null;
  /** Whether origin's main is still contained in the head (auto-merge: else it is turned off and gated again). */
  readonly baseInHead: () => Promise<boolean>;
}

/**
 * Wait until GitHub merged the pull request; its merge commit. A pull request closed, taken out of the queue, or whose
 * auto-merge was turned off is exit 3 with GitHub's reason (run again queues or enables it again). With auto-merge a
 * failed check is exit 3 as well (auto-merge stays on), and an origin main that moved past the head turns auto-merge
 * off and returns null: the head is gated again, never merged with a main it was not tested with.
 */
export async function waitForGithubMerge(
  ctx: Ctx,
  s: PullSession,
  w: GithubMergeWait,
  progress: Progress,
): Promise<string | null> {
  let interval = firstPoll(ctx.env);
  let said = '';
  for (;;) {
    const pull = await pullMergeStateOf(s, w.number);
    if (pull.state === 'MERGED' && pull.mergeCommit) return pull.mergeCommit;
    if (pull.state === 'CLOSED')
      throw new NeedsAttentionError(
        `${w.url} was closed without being merged; nothing was landed; reopen it (or delete it), then run again`,
      );
    if (w.how === 'queue' && pull.queuePosition === null)
      throw new NeedsAttentionError(
        `GitHub took ${w.url} out of the merge queue` +
          `${pull.removedBecause ? ` (${pull.removedBecause})` : ''}; nothing was landed; see to it there, then run ` +
          'again: landing queues it again',
      );
    if (w.how === 'auto-merge') {
      if (!pull.autoMerge)
        throw new NeedsAttentionError(
          `auto-merge of ${w.url} was turned off${pull.autoMergeOffBecause ? ` (${pull.autoMergeOffBecause})` : ''}; ` +
            'nothing was landed; run again to turn it on again',
        );
      const failed = judgeChecks(await headChecksOf(s, w.head), w.required).failed[0];
      if (failed)
        throw new NeedsAttentionError(
          `check "${failed.name}" failed (${failed.said}) on ${w.url}; nothing was landed; auto-merge stays on: ` +
            'GitHub merges once it passes (re-run it, or push a fix and run again with --adopt); run again to wait',
        );
      if (!(await w.baseInHead())) {
        await disableAutoMerge(s, pull.id, w.url);
        // GitHub may have merged it meanwhile (its own merge moves main too): after turning it off, that is final.
        const now = await pullMergeStateOf(s, w.number);
        return now.state === 'MERGED' ? now.mergeCommit : null;
      }
    }
    const line =
      w.how === 'queue'
        ? `waiting in ${MAIN_BRANCH}'s merge queue for ${w.url} (position ${pull.queuePosition})`
        : `waiting for GitHub to auto-merge ${w.url} once its checks pass`;
    if (line !== said) progress.output((said = line));
    await pause(interval, ctx.signal);
    interval = Math.min(interval * 2, MAX_POLL_MS);
  }
}
