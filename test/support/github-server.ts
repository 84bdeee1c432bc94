/**
 * A loopback GitHub REST and GraphQL server for tests: one repository's issues, milestones, labels, comments, pull
 * requests, check runs and commit statuses held in memory (pull requests merge into the seed's bare `origin` with a
 * merge commit, once the required checks are green: through the REST merge, or by the server itself for a pull
 * request in the merge queue or with auto-merge on, when a request comes in after its checks passed). Every REST
 * request is checked against GitHub's OpenAPI description (`openapi-check.ts`) and every answer too, every GraphQL
 * request against GitHub's GraphQL schema (`github-graphql.ts`); what failed a check is in `problems`, which a test
 * asserts empty. Faults are scripted: the next
 * requests can be answered with GitHub's real rate-limit and error responses, and creating an issue can be made to
 * end the caller (the test kills the runner) before it hears the answer.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { listenOnLoopback, readRequest } from '../../tasks/demo/loopback.ts';
import { GithubRefusal, runGraphql } from './github-graphql.ts';
import { openApiCheck, type Operation } from './openapi-check.ts';
import type { ActionsRoutes } from './github-actions-routes.ts';

/** A label of the repository. */
export interface Label {
  readonly id: number;
  readonly name: string;
  readonly color: string;
}

/** A comment on an issue. */
export interface Comment {
  readonly id: number;
  readonly issue: number;
  readonly body: string;
}

/** An issue as the server holds it. */
export interface ServerIssue {
  readonly number: number;
  title: string;
  body: string;
  state: 'open' | 'closed';
  stateReason: 'completed' | 'not_planned' | 'reopened' | null;
  labels: string[];
  milestone: number | null;
  closedAt: string | null;
}

/** A milestone as the server holds it. */
export interface ServerMilestone {
  readonly number: number;
  title: string;
  state: 'open' | 'closed';
}

/** A pull request; `head` and `base` are branches of the seed's `origin`. */
export interface ServerPull {
  readonly number: number;
  readonly head: string;
  readonly base: string;
  title: string;
  body: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergeCommit: string | null;
  /** Auto-merge is on: the server merges it once its required checks are green. */
  autoMerge: boolean;
  /** In the merge queue: merged once its required checks are green, taken out when one fails. */
  queued: boolean;
  /** Timeline events the GraphQL API shows (removed from the merge queue, auto-merge turned off). */
  readonly events: Array<{
    readonly __typename: 'RemovedFromMergeQueueEvent' | 'AutoMergeDisabledEvent';
    readonly reason: string;
  }>;
}

/** A legacy commit status on a commit (the Statuses API); the latest of a context counts. */
export interface ServerStatus {
  readonly id: number;
  readonly sha: string;
  readonly context: string;
  readonly state: 'pending' | 'success' | 'failure' | 'error';
}

/** A check run on a commit; a test adds them and turns them green. */
export interface ServerCheckRun {
  readonly id: number;
  readonly sha: string;
  readonly name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: 'success' | 'failure' | null;
}

/** A scripted answer that replaces the next request's. */
export interface Fault {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request the server received. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly operationId: string | null;
  readonly status: number;
}

/** GitHub's answer to a request over the secondary rate limit (403, `retry-after`). */
export const SECONDARY_RATE_LIMIT: Fault = {
  status: 403,
  headers: { 'retry-after': '1' },
  body: {
    message:
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 1234:5678.',
    documentation_url:
      'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits',
    status: '403',
  },
};

/** GitHub's answer over the primary rate limit (403, `x-ratelimit-remaining: 0`, the reset now). */
export function primaryRateLimit(): Fault {
  return {
    status: 403,
    headers: {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-used': '5000',
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000)),
      'x-ratelimit-resource': 'core',
    },
    body: {
      message: 'API rate limit exceeded for user ID 1.',
      documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
      status: '403',
    },
  };
}

/** A 502 as GitHub's front end sends it. */
export const BAD_GATEWAY: Fault = { status: 502, body: { message: 'Server Error' } };

/** What the server starts with. */
export interface GithubSeed {
  /** `owner/name` of the one repository. */
  readonly repo: string;
  /** The token it accepts. */
  readonly token: string;
  readonly milestones: ReadonlyArray<{ readonly number: number; readonly title: string }>;
  readonly issues: ReadonlyArray<{
    readonly number: number;
    readonly title: string;
    readonly body?: string;
    readonly milestone?: number | null;
    readonly labels?: readonly string[];
    readonly state?: 'open' | 'closed';
  }>;
  /** Labels of the repository besides those of the issues. */
  readonly labels?: readonly string[];
  /** The bare repository that is git's origin: pull requests read their branches there and merge into it. */
  readonly origin?: string;
  /** Check names (check runs or commit status contexts) a pull request's head must have green to be merged. */
  readonly requiredChecks?: readonly string[];
  /** Main's protection shows the required checks to the token (`GET /branches/main`); hidden otherwise. */
  readonly showRequiredChecks?: boolean;
  /** Main requires a merge queue (a `merge_queue` rule; the REST merge is refused with 405). */
  readonly mergeQueue?: boolean;
  /** The rules of main answer 403 (a token that may not read them): the merge queue shows only in the 405. */
  readonly hideRules?: boolean;
  /** The repository allows auto-merge. */
  readonly allowAutoMerge?: boolean;
}

/** The running server and its state. */
export interface GithubServer {
  /** `GITHUB_API_URL` for the runner. */
  readonly url: string;
  readonly issues: Map<number, ServerIssue>;
  readonly milestones: Map<number, ServerMilestone>;
  readonly labels: Map<string, Label>;
  readonly comments: Comment[];
  readonly pulls: ServerPull[];
  readonly checkRuns: ServerCheckRun[];
  readonly statuses: ServerStatus[];
  /** Requests in the order received (GraphQL ones as `graphql/<root field>`). */
  readonly received: Received[];
  /** Requests or answers that did not match GitHub's OpenAPI description. */
  readonly problems: string[];
  /** Answer the next requests with these, in order. */
  readonly faults: Fault[];
  /** Answer every request of an operation (by operationId) with this. */
  readonly refusals: Map<string, Fault>;
  /**
   * Called when an issue is created, before the answer: 'drop' closes the connection without one (the test has ended
   * the runner by then: the issue exists, the runner never heard of it).
   */
  onIssueCreated: ((issue: ServerIssue) => Promise<'answer' | 'drop'>) | null;
  /** Called before a request of this operation is answered (the runner waits for the answer meanwhile). */
  beforeAnswer: ((operationId: string) => Promise<void>) | null;
  /** Called when a pull request was merged, before the answer: 'drop' as for `onIssueCreated`. */
  onPullMerged: ((pull: ServerPull) => Promise<'answer' | 'drop'>) | null;
  /** Called when a GraphQL mutation was done, before the answer: 'drop' as for `onIssueCreated`. */
  onMutation: ((field: string) => Promise<'answer' | 'drop'>) | null;
  /** GitHub Actions routes (`github-actions-routes.ts`), answered where the server itself serves nothing. */
  actions: ActionsRoutes | null;
  close(): Promise<void>;
}

const NOW = '2026-01-01T00:00:00Z';
const DOCS = 'https://docs.github.com/rest';
const API = 'https://api.github.com';

/** Start the server on 127.0.0.1. */
export async function startGithubServer(seed: GithubSeed): Promise<GithubServer> {
  const check = openApiCheck();
  const [owner = '', name = ''] = seed.repo.split('/');
  const labels = new Map<string, Label>();
  let nextId = 1000;
  const ensureLabel = (n: string): Label => {
    let l = labels.get(n.toLowerCase());
    if (!l) labels.set(n.toLowerCase(), (l = { id: nextId++, name: n, color: 'ededed' }));
    return l;
  };
  for (const l of seed.labels ?? []) ensureLabel(l);
  const milestones = new Map<number, ServerMilestone>(
    seed.milestones.map((m) => [m.number, { number: m.number, title: m.title, state: 'open' }]),
  );
  const issues = new Map<number, ServerIssue>();
  for (const i of seed.issues) {
    for (const l of i.labels ?? []) ensureLabel(l);
    issues.set(i.number, {
      number: i.number,
      title: i.title,
      body: i.body ?? `## Description\n\nDo ${i.title}.\n\n## Acceptance Criteria\n\n- it is done`,
      state: i.state ?? 'open',
      stateReason: i.state === 'closed' ? 'completed' : null,
      labels: [...(i.labels ?? [])],
      milestone: i.milestone === undefined ? (seed.milestones[0]?.number ?? null) : i.milestone,
      closedAt: i.state === 'closed' ? NOW : null,
    });
  }
  const comments: Comment[] = [];
  const pulls: ServerPull[] = [];
  const checkRuns: ServerCheckRun[] = [];
  const statuses: ServerStatus[] = [];
  const repoUrl = `${API}/repos/${seed.repo}`;

  const user = {
    login: 'octocat',
    id: 1,
    node_id: 'MDQ6VXNlcjE=',
    avatar_url: 'https://avatars.githubusercontent.com/u/1?v=4',
    gravatar_id: '',
    url: `${API}/users/octocat`,
    html_url: 'https://github.com/octocat',
    followers_url: `${API}/users/octocat/followers`,
    following_url: `${API}/users/octocat/following{/other_user}`,
    gists_url: `${API}/users/octocat/gists{/gist_id}`,
    starred_url: `${API}/users/octocat/starred{/owner}{/repo}`,
    subscriptions_url: `${API}/users/octocat/subscriptions`,
    organizations_url: `${API}/users/octocat/orgs`,
    repos_url: `${API}/users/octocat/repos`,
    events_url: `${API}/users/octocat/events{/privacy}`,
    received_events_url: `${API}/users/octocat/received_events`,
    type: 'User',
    site_admin: false,
  };
  const labelJson = (l: Label) => ({
    id: l.id,
    node_id: `LA_${l.id}`,
    url: `${repoUrl}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    description: null,
    color: l.color,
    default: false,
  });
  const milestoneJson = (m: ServerMilestone) => {
    const of = [...issues.values()].filter((i) => i.milestone === m.number);
    return {
      url: `${repoUrl}/milestones/${m.number}`,
      html_url: `https://github.com/${seed.repo}/milestone/${m.number}`,
      labels_url: `${repoUrl}/milestones/${m.number}/labels`,
      id: 500 + m.number,
      node_id: `MI_${m.number}`,
      number: m.number,
      state: m.state,
      title: m.title,
      description: null,
      creator: user,
      open_issues: of.filter((i) => i.state === 'open').length,
      closed_issues: of.filter((i) => i.state === 'closed').length,
      created_at: NOW,
      updated_at: NOW,
      closed_at: m.state === 'closed' ? NOW : null,
      due_on: null,
    };
  };
  const issueJson = (i: ServerIssue) => {
    const m = i.milestone === null ? undefined : milestones.get(i.milestone);
    return {
      id: 100_000 + i.number,
      node_id: `I_${i.number}`,
      url: `${repoUrl}/issues/${i.number}`,
      repository_url: repoUrl,
      labels_url: `${repoUrl}/issues/${i.number}/labels{/name}`,
      comments_url: `${repoUrl}/issues/${i.number}/comments`,
      events_url: `${repoUrl}/issues/${i.number}/events`,
      html_url: `https://github.com/${seed.repo}/issues/${i.number}`,
      number: i.number,
      state: i.state,
      state_reason: i.stateReason,
      title: i.title,
      body: i.body,
      user,
      labels: i.labels.map((n) => labelJson(ensureLabel(n))),
      assignee: null,
      assignees: [],
      milestone: m ? milestoneJson(m) : null,
      locked: false,
      active_lock_reason: null,
      comments: comments.filter((c) => c.issue === i.number).length,
      closed_at: i.closedAt,
      created_at: NOW,
      updated_at: NOW,
      author_association: 'OWNER',
    };
  };
  const commentJson = (c: Comment) => ({
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${repoUrl}/issues/comments/${c.id}`,
    html_url: `https://github.com/${seed.repo}/issues/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${repoUrl}/issues/${c.issue}`,
    body: c.body,
    user,
    created_at: NOW,
    updated_at: NOW,
    author_association: 'OWNER',
  });

  /** A sha of origin (a branch, or a sha as given); undefined when origin has no such ref. */
  const originSha = (ref: string): string | undefined => {
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    if (!seed.origin) return undefined;
    try {
      return originGit(seed.origin, ['rev-parse', '--verify', '-q', `refs/heads/${ref}^{commit}`]);
    } catch {
      return undefined;
    }
  };
  const pullJson = (p: ServerPull, shape: 'pull-request' | 'pull-request-simple') => {
    const example = check.exampleOf(shape) as Record<string, any>;
    const side = (ref: string) => ({
      ...example.head,
      label: `${owner}:${ref}`,
      ref,
      sha: originSha(ref) ?? '0'.repeat(40),
    });
    return {
      ...example,
      id: 300_000 + p.number,
      node_id: `PR_${p.number}`,
      number: p.number,
      url: `${repoUrl}/pulls/${p.number}`,
      html_url: `https://github.com/${seed.repo}/pull/${p.number}`,
      state: p.state,
      title: p.title,
      body: p.body,
      head: side(p.head),
      base: side(p.base),
      merge_commit_sha: p.mergeCommit,
      merged_at: p.merged ? NOW : null,
      closed_at: p.state === 'closed' ? NOW : null,
      ...(shape === 'pull-request' ? { merged: p.merged, mergeable: p.state === 'open' ? true : null } : {}),
    };
  };
  const checkRunJson = (c: ServerCheckRun) => ({
    ...check.exampleOf('check-run'),
    id: c.id,
    node_id: `CR_${c.id}`,
    head_sha: c.sha,
    name: c.name,
    status: c.status,
    conclusion: c.conclusion,
    url: `${repoUrl}/check-runs/${c.id}`,
    html_url: `https://github.com/${seed.repo}/runs/${c.id}`,
  });
  /** Why `p` may not be merged yet (GitHub's 405 message), or undefined; `failed` when a required check failed. */
  const mergeBlocker = (p: ServerPull): { readonly message: string; readonly failed: boolean } | undefined => {
    const sha = originSha(p.head);
    for (const name of seed.requiredChecks ?? []) {
      const run = checkRuns.filter((c) => c.sha === sha && c.name === name).at(-1);
      const status = statuses.filter((c) => c.sha === sha && c.context === name).at(-1);
      if (!run && !status) return { message: `Required status check "${name}" is expected.`, failed: false };
      const green = run ? run.status === 'completed' && run.conclusion === 'success' : status?.state === 'success';
      const done = run ? run.status === 'completed' : status?.state !== 'pending';
      if (!green) return { message: `Required status check "${name}" is failing.`, failed: done };
    }
    return undefined;
  };
  /** Merge `p` into its base in origin with a merge commit, as GitHub's merge button does; its sha. */
  const mergeInOrigin = (p: ServerPull): string | undefined => {
    if (!seed.origin) return undefined;
    const base = originSha(p.base);
    const head = originSha(p.head);
    if (!base || !head) return undefined;
    let tree: string;
    try {
      tree = originGit(seed.origin, ['merge-tree', '--write-tree', base, head]).split('\n')[0] ?? '';
    } catch {
      return undefined;
    }
    const sha = originGit(seed.origin, [
      'commit-tree',
      tree,
      '-p',
      base,
      '-p',
      head,
      '-m',
      `Merge pull request #${p.number} from ${owner}/${p.head}\n\n${p.title}`,
    ]);
    originGit(seed.origin, ['update-ref', `refs/heads/${p.base}`, sha, base]);
    return sha;
  };

  /**
   * GitHub's own merges: a pull request in the merge queue or with auto-merge on is merged once its required checks
   * are green (here, checks of its head stand for the merge group's); a queued one whose check failed is taken out.
   */
  const settle = (): void => {
    for (const p of pulls.filter((q) => q.state === 'open' && (q.queued || q.autoMerge))) {
      const blocker = mergeBlocker(p);
      if (blocker) {
        if (blocker.failed && p.queued) dequeue(p, `${blocker.message.replace(/\.$/, '')} in the merge queue`);
        continue;
      }
      const sha = mergeInOrigin(p);
      if (!sha) {
        if (p.queued) dequeue(p, 'Merge conflict with the base branch');
        continue;
      }
      Object.assign(p, { state: 'closed', merged: true, mergeCommit: sha, queued: false, autoMerge: false });
    }
  };
  const dequeue = (p: ServerPull, reason: string): void => {
    p.queued = false;
    p.events.push({ __typename: 'RemovedFromMergeQueueEvent', reason });
  };
  const pullOfNode = (id: unknown): ServerPull => {
    const p = pulls.find((q) => `PR_${q.number}` === id);
    if (!p) throw new GithubRefusal(`Could not resolve to a node with the global id of '${String(id)}'`);
    return p;
  };
  const upperSnake = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  const pullNode = (p: ServerPull) => ({
    id: `PR_${p.number}`,
    number: p.number,
    state: p.merged ? 'MERGED' : p.state === 'open' ? 'OPEN' : 'CLOSED',
    merged: p.merged,
    mergeCommit: p.mergeCommit ? { oid: p.mergeCommit } : null,
    autoMergeRequest: p.autoMerge ? { enabledAt: NOW, mergeMethod: 'MERGE' } : null,
    mergeQueueEntry: p.queued
      ? { id: `MQE_${p.number}`, position: 1, state: 'QUEUED', enqueuedAt: NOW, jump: false, solo: false }
      : null,
    timelineItems: (args: { last?: number; first?: number; itemTypes?: string[] }) => {
      const all = p.events
        .map((e, i) => ({ ...e, id: `E_${p.number}_${i}`, createdAt: NOW }))
        .filter((e) => !args.itemTypes || args.itemTypes.includes(upperSnake(e.__typename)));
      const nodes = args.last ? all.slice(-args.last) : args.first ? all.slice(0, args.first) : all;
      return {
        nodes,
        totalCount: p.events.length,
        filteredCount: all.length,
        pageCount: nodes.length,
        updatedAt: NOW,
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      };
    },
  });
  /** The root value of the GraphQL API: what the runner reads and the mutations it makes. */
  const graphqlRoot = {
    repository: (args: { owner: string; name: string }) =>
      args.owner === owner && args.name === name
        ? {
            id: 'R_42',
            nameWithOwner: seed.repo,
            pullRequest: ({ number }: { number: number }) => {
              const p = pulls.find((q) => q.number === number);
              return p ? pullNode(p) : null;
            },
          }
        : null,
    enqueuePullRequest: ({ input }: { input: { pullRequestId: string; expectedHeadOid?: string } }) => {
      const p = pullOfNode(input.pullRequestId);
      if (!seed.mergeQueue) throw new GithubRefusal('Pull request is not in a merge queue-enabled branch');
      if (p.state !== 'open') throw new GithubRefusal('Pull request is not open');
      if (input.expectedHeadOid && input.expectedHeadOid !== originSha(p.head))
        throw new GithubRefusal('Head branch was modified. Review and try the merge again.');
      if (p.queued) throw new GithubRefusal('Pull request is already in the merge queue');
      p.queued = true;
      return { mergeQueueEntry: pullNode(p).mergeQueueEntry };
    },
    enablePullRequestAutoMerge: ({ input }: { input: { pullRequestId: string; expectedHeadOid?: string } }) => {
      const p = pullOfNode(input.pullRequestId);
      if (!seed.allowAutoMerge) throw new GithubRefusal('Auto merge is not allowed for this repository');
      if (p.state !== 'open') throw new GithubRefusal('Pull request is not open');
      if (input.expectedHeadOid && input.expectedHeadOid !== originSha(p.head))
        throw new GithubRefusal('Head branch was modified. Review and try the merge again.');
      p.autoMerge = true;
      return { pullRequest: pullNode(p) };
    },
    disablePullRequestAutoMerge: ({ input }: { input: { pullRequestId: string } }) => {
      const p = pullOfNode(input.pullRequestId);
      if (p.autoMerge) p.events.push({ __typename: 'AutoMergeDisabledEvent', reason: 'turned off by octocat' });
      p.autoMerge = false;
      return { pullRequest: pullNode(p) };
    },
  };

  const notFound = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' };
  type Answer = { status: number; body: unknown; headers?: Record<string, string> };

  /** One page of `list` and the `link` header that names the next. */
  const page = <T>(list: readonly T[], query: URLSearchParams, base: string): Answer => {
    const perPage = Math.min(100, Number(query.get('per_page') ?? 30));
    const at = Math.max(1, Number(query.get('page') ?? 1));
    const slice = list.slice((at - 1) * perPage, at * perPage);
    const headers: Record<string, string> = {};
    if (at * perPage < list.length) {
      const next = new URLSearchParams(query);
      next.set('page', String(at + 1));
      headers.link = `<${base}?${next.toString()}>; rel="next"`;
    }
    return { status: 200, body: slice, headers };
  };

  const handle = async (op: Operation, query: URLSearchParams, body: any, base: string): Promise<Answer | 'drop'> => {
    if (op.params.owner !== owner || op.params.repo !== name) return { status: 404, body: notFound };
    const issueOf = (): ServerIssue | undefined => issues.get(Number(op.params.issue_number));
    switch (op.operationId) {
      case 'issues/get-milestone': {
        const m = milestones.get(Number(op.params.milestone_number));
        return m ? { status: 200, body: milestoneJson(m) } : { status: 404, body: notFound };
      }
      case 'issues/update-milestone': {
        const m = milestones.get(Number(op.params.milestone_number));
        if (!m) return { status: 404, body: notFound };
        if (body?.state) m.state = body.state;
        if (body?.title) m.title = body.title;
        return { status: 200, body: milestoneJson(m) };
      }
      case 'issues/list-for-repo': {
        const state = query.get('state') ?? 'open';
        const ms = query.get('milestone');
        const list = [...issues.values()]
          .filter((i) => state === 'all' || i.state === state)
          .filter((i) => ms === null || ms === '*' || String(i.milestone) === ms)
          .sort((a, b) => b.number - a.number);
        const answer = page(list, query, base);
        return { ...answer, body: (answer.body as ServerIssue[]).map(issueJson) };
      }
      case 'issues/get': {
        const i = issueOf();
        return i ? { status: 200, body: issueJson(i) } : { status: 404, body: notFound };
      }
      case 'issues/create': {
        const number = Math.max(0, ...issues.keys()) + 1;
        const issue: ServerIssue = {
          number,
          title: String(body.title),
          body: body.body ?? '',
          state: 'open',
          stateReason: null,
          labels: [...(body.labels ?? [])].map((l: string | { name: string }) => (typeof l === 'string' ? l : l.name)),
          milestone: body.milestone ?? null,
          closedAt: null,
        };
        if (issue.milestone !== null && !milestones.has(issue.milestone))
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              documentation_url: DOCS,
              errors: [{ resource: 'Issue', field: 'milestone', code: 'invalid' }],
            },
          };
        for (const l of issue.labels) ensureLabel(l);
        issues.set(number, issue);
        if (server.onIssueCreated && (await server.onIssueCreated(issue)) === 'drop') return 'drop';
        return { status: 201, body: issueJson(issue) };
      }
      case 'issues/update': {
        const i = issueOf();
        if (!i) return { status: 404, body: notFound };
        if (body.title !== undefined) i.title = body.title;
        if (body.body !== undefined) i.body = body.body;
        if (body.state === 'closed' && i.state === 'open') {
          i.state = 'closed';
          i.stateReason = body.state_reason ?? 'completed';
          i.closedAt = NOW;
        } else if (body.state === 'open' && i.state === 'closed') {
          i.state = 'open';
          i.stateReason = 'reopened';
          i.closedAt = null;
        }
        return { status: 200, body: issueJson(i) };
      }
      case 'issues/list-comments': {
        const i = issueOf();
        if (!i) return { status: 404, body: notFound };
        const answer = page(
          comments.filter((c) => c.issue === i.number),
          query,
          base,
        );
        return { ...answer, body: (answer.body as Comment[]).map(commentJson) };
      }
      case 'issues/create-comment': {
        const i = issueOf();
        if (!i) return { status: 404, body: notFound };
        const c = { id: nextId++, issue: i.number, body: String(body.body) };
        comments.push(c);
        return { status: 201, body: commentJson(c) };
      }
      case 'issues/list-labels-for-repo': {
        const answer = page([...labels.values()], query, base);
        return { ...answer, body: (answer.body as Label[]).map(labelJson) };
      }
      case 'issues/add-labels': {
        const i = issueOf();
        if (!i) return { status: 404, body: notFound };
        const names: string[] = Array.isArray(body) ? body : (body.labels ?? []);
        for (const n of names.map((l: string | { name: string }) => (typeof l === 'string' ? l : l.name)))
          if (!i.labels.includes(n)) i.labels.push(ensureLabel(n).name);
        return { status: 200, body: i.labels.map((n) => labelJson(ensureLabel(n))) };
      }
      case 'issues/remove-label': {
        const i = issueOf();
        const at = i?.labels.indexOf(op.params.name ?? '') ?? -1;
        if (!i || at < 0) return { status: 404, body: notFound };
        i.labels.splice(at, 1);
        return { status: 200, body: i.labels.map((n) => labelJson(ensureLabel(n))) };
      }
      case 'pulls/list': {
        const state = query.get('state') ?? 'open';
        const head = query.get('head');
        const baseRef = query.get('base');
        const list = pulls
          .filter((p) => state === 'all' || p.state === state)
          .filter((p) => head === null || `${owner}:${p.head}` === head || p.head === head)
          .filter((p) => baseRef === null || p.base === baseRef);
        const answer = page(list, query, base);
        return { ...answer, body: (answer.body as ServerPull[]).map((p) => pullJson(p, 'pull-request-simple')) };
      }
      case 'pulls/create': {
        const head = String(body.head).replace(`${owner}:`, '');
        if (!originSha(head) || !originSha(String(body.base)))
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              documentation_url: DOCS,
              errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }],
            },
          };
        if (pulls.some((p) => p.state === 'open' && p.head === head && p.base === body.base))
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              documentation_url: DOCS,
              errors: [
                {
                  resource: 'PullRequest',
                  code: 'custom',
                  message: `A pull request already exists for ${owner}:${head}.`,
                },
              ],
            },
          };
        const p: ServerPull = {
          number: Math.max(0, ...issues.keys(), ...pulls.map((q) => q.number)) + 1,
          head,
          base: String(body.base),
          title: String(body.title ?? head),
          body: body.body ?? '',
          state: 'open',
          merged: false,
          mergeCommit: null,
          autoMerge: false,
          queued: false,
          events: [],
        };
        pulls.push(p);
        return { status: 201, body: pullJson(p, 'pull-request') };
      }
      case 'pulls/get':
      case 'pulls/update': {
        const p = pulls.find((q) => q.number === Number(op.params.pull_number));
        if (!p) return { status: 404, body: notFound };
        if (op.operationId === 'pulls/update') {
          if (body.title !== undefined) p.title = body.title;
          if (body.body !== undefined) p.body = body.body;
          if (body.state !== undefined && !p.merged) p.state = body.state;
        }
        return { status: 200, body: pullJson(p, 'pull-request') };
      }
      case 'pulls/merge': {
        const p = pulls.find((q) => q.number === Number(op.params.pull_number));
        if (!p) return { status: 404, body: notFound };
        if (p.state !== 'open') return { status: 405, body: { message: 'Pull Request is not mergeable' } };
        if (body?.sha && body.sha !== originSha(p.head))
          return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.' } };
        if (seed.mergeQueue) return { status: 405, body: { message: 'Changes must be made through the merge queue' } };
        const blocker = mergeBlocker(p);
        if (blocker) return { status: 405, body: { message: blocker.message } };
        const sha = mergeInOrigin(p);
        if (!sha) return { status: 405, body: { message: 'Pull Request is not mergeable' } };
        Object.assign(p, { state: 'closed', merged: true, mergeCommit: sha });
        if (server.onPullMerged && (await server.onPullMerged(p)) === 'drop') return 'drop';
        return { status: 200, body: { sha, merged: true, message: 'Pull Request successfully merged' } };
      }
      case 'checks/list-for-ref': {
        const sha = originSha(op.params.ref ?? '');
        const name = query.get('check_name');
        const runs = checkRuns.filter((c) => c.sha === sha && (name === null || c.name === name));
        return { status: 200, body: { total_count: runs.length, check_runs: runs.map(checkRunJson) } };
      }
      case 'repos/get':
        return {
          status: 200,
          body: {
            ...check.exampleOf('full-repository'),
            id: 42,
            node_id: 'R_42',
            name,
            full_name: seed.repo,
            owner: user,
            url: repoUrl,
            html_url: `https://github.com/${seed.repo}`,
            default_branch: 'main',
            allow_auto_merge: seed.allowAutoMerge === true,
            allow_merge_commit: true,
          },
        };
      case 'repos/get-branch': {
        const sha = originSha(op.params.branch ?? '');
        if (!sha) return { status: 404, body: { ...notFound, message: 'Branch not found' } };
        const example = check.exampleOf('branch-with-protection') as Record<string, any>;
        const required = seed.requiredChecks ?? [];
        return {
          status: 200,
          body: {
            ...example,
            name: op.params.branch,
            commit: { ...example.commit, sha, url: `${repoUrl}/commits/${sha}` },
            protected: required.length > 0,
            protection: {
              enabled: required.length > 0,
              ...(seed.showRequiredChecks
                ? {
                    required_status_checks: {
                      enforcement_level: 'non_admins',
                      contexts: [...required],
                      checks: required.map((context) => ({ context, app_id: null })),
                    },
                  }
                : {}),
            },
            protection_url: `${repoUrl}/branches/${op.params.branch}/protection`,
          },
        };
      }
      case 'repos/get-branch-rules': {
        if (seed.hideRules)
          return {
            status: 403,
            body: { message: 'Resource not accessible by personal access token', documentation_url: DOCS },
          };
        const source = { ruleset_source_type: 'Repository', ruleset_source: seed.repo, ruleset_id: 7 };
        const rules = seed.mergeQueue
          ? [
              {
                type: 'merge_queue',
                parameters: {
                  check_response_timeout_minutes: 60,
                  grouping_strategy: 'ALLGREEN',
                  max_entries_to_build: 5,
                  max_entries_to_merge: 5,
                  merge_method: 'MERGE',
                  min_entries_to_merge: 1,
                  min_entries_to_merge_wait_minutes: 5,
                },
                ...source,
              },
            ]
          : [];
        return page(rules, query, base);
      }
      case 'repos/get-combined-status-for-ref': {
        const sha = originSha(op.params.ref ?? '');
        if (!sha) return { status: 404, body: notFound };
        const latest = new Map<string, ServerStatus>();
        for (const st of statuses) if (st.sha === sha) latest.set(st.context, st);
        const list = [...latest.values()];
        const combined = list.some((st) => st.state === 'failure' || st.state === 'error')
          ? 'failure'
          : list.every((st) => st.state === 'success') && list.length > 0
            ? 'success'
            : 'pending';
        const example = check.exampleOf('combined-commit-status') as Record<string, any>;
        const statusExample = check.exampleOf('simple-commit-status') as Record<string, any>;
        return {
          status: 200,
          body: {
            ...example,
            state: combined,
            sha,
            total_count: list.length,
            statuses: list.map((st) => ({
              ...statusExample,
              id: st.id,
              node_id: `SC_${st.id}`,
              context: st.context,
              state: st.state,
              description: null,
              target_url: null,
              avatar_url: null,
              url: `${repoUrl}/statuses/${sha}`,
            })),
            commit_url: `${repoUrl}/commits/${sha}`,
            url: `${repoUrl}/commits/${sha}/status`,
          },
        };
      }
      default: {
        const actions = await server.actions?.handle(op, query, body, server.url);
        if (actions !== undefined) return actions;
        server.problems.push(`${op.method.toUpperCase()} ${op.template} (${op.operationId}) is not served`);
        return { status: 404, body: notFound };
      }
    }
  };

  const authorized = (auth: string) =>
    auth === `token ${seed.token}` || auth === `bearer ${seed.token}` || auth === `Bearer ${seed.token}`;
  const http_ = http.createServer((req, res) => {
    void (async () => {
      const { pathname, body } = await readRequest(req);
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      const method = req.method ?? 'GET';
      const base = `http://${req.headers.host ?? '127.0.0.1'}${pathname}`;
      const send = (a: Answer, operationId: string | null): void => {
        server.received.push({ method, path: pathname, operationId, status: a.status });
        res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', ...(a.headers ?? {}) });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      if (pathname === '/graphql' && method === 'POST') {
        if (!authorized(req.headers.authorization ?? '')) {
          send({ status: 401, body: { message: 'Bad credentials', documentation_url: DOCS } }, 'graphql');
          return;
        }
        settle();
        const outcome = await runGraphql(body, graphqlRoot);
        server.problems.push(...outcome.problems);
        const id = `graphql/${outcome.fields.join(',')}`;
        if (outcome.operation === 'mutation' && server.onMutation) {
          if ((await server.onMutation(outcome.fields[0] ?? '')) === 'drop') {
            server.received.push({ method, path: pathname, operationId: id, status: 0 });
            req.socket.destroy();
            return;
          }
        }
        send({ status: 200, body: outcome.body }, id);
        return;
      }
      if (server.actions?.raw(method, pathname, res)) return;
      const op = check.match(method, pathname);
      if (!op) {
        server.problems.push(`${method} ${pathname}: no such operation in GitHub's REST API`);
        send({ status: 404, body: notFound }, null);
        return;
      }
      if (!authorized(req.headers.authorization ?? '')) {
        send(
          {
            status: 401,
            body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' },
          },
          op.operationId,
        );
        return;
      }
      server.problems.push(...check.checkRequest(op, query, body));
      const fault = server.refusals.get(op.operationId) ?? server.faults.shift();
      if (fault) {
        send({ status: fault.status, body: fault.body, headers: { ...(fault.headers ?? {}) } }, op.operationId);
        return;
      }
      if (server.beforeAnswer) await server.beforeAnswer(op.operationId);
      settle();
      const answer = await handle(op, query, body, base);
      if (answer === 'drop') {
        server.received.push({ method, path: pathname, operationId: op.operationId, status: 0 });
        req.socket.destroy();
        return;
      }
      server.problems.push(...check.checkResponse(op, answer.status, answer.body));
      send(answer, op.operationId);
    })().catch((e: unknown) => {
      server.problems.push(`server error: ${e instanceof Error ? e.stack : String(e)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const listening = await listenOnLoopback(http_, 'github server');
  const server: GithubServer = {
    url: `http://127.0.0.1:${listening.port}`,
    issues,
    milestones,
    labels,
    comments,
    pulls,
    checkRuns,
    statuses,
    received: [],
    problems: [],
    faults: [],
    refusals: new Map(),
    onIssueCreated: null,
    onPullMerged: null,
    onMutation: null,
    beforeAnswer: null,
    actions: null,
    close: () => listening.close(),
  };
  return server;
}

/** git in the bare origin, trimmed stdout (test-only, synchronous). */
function originGit(dir: string, args: readonly string[]): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 'GitHub', GIT_AUTHOR_EMAIL: 'noreply@github.com' };
  Object.assign(env, { GIT_COMMITTER_NAME: 'GitHub', GIT_COMMITTER_EMAIL: 'noreply@github.com' });
  return execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
