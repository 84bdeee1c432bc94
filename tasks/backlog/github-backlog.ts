/**
 * The GitHub Issues backlog (docs/github.md): items are the issues of a repository, milestone N is its GitHub
 * milestone number. Every write is idempotent (looked up before it is made), so a run that crashed between two
 * requests repeats nothing when it runs again.
 */
import { oneLine } from '../lib/bounded-text.ts';
import { execFile } from 'node:child_process';
import { markerLine, type Backlog, type BacklogItem, type BacklogStatus, type NewBacklogItem } from './backlog.ts';
import { splitSections } from './front-matter.ts';
import { apiBaseOf, repoOfRemoteUrl } from './github-urls.ts';
import {
  createGithubClient,
  githubFailure,
  isNotFound,
  resolveToken,
  type GithubClient,
  type GithubToken,
} from './github-client.ts';
import { BadInputError } from '../lib/errors.ts';
import { fitTitle } from '../lib/plan/title.ts';

/** The comment marker of a landing, so a repeated close does not comment twice. */
const LANDED_MARKER = 'work-milestone: landed';
const STATUS_LABEL = /^status:\s*(.+)$/i;
const PRIORITY_LABEL = /^(?:priority[:/ ]\s*)?(P\d)$/i;

/** Options of the GitHub backlog. */
export interface GithubBacklogOptions {
  /** `owner/name`; null: the repository of origin's URL in `root`. */
  readonly repo: string | null;
  /** The checkout whose origin names the repository. */
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
}

/** An issue as the REST API returns it (the fields used here). */
interface Issue {
  readonly number: number;
  readonly title: string;
  readonly state: string;
  readonly body?: string | null;
  readonly labels: ReadonlyArray<string | { readonly name?: string }>;
  readonly milestone: { readonly number: number } | null;
  readonly pull_request?: unknown;
}

/** The client, repository and token, found once per backlog. */
interface Session {
  readonly client: GithubClient;
  readonly owner: string;
  readonly repo: string;
  readonly token: GithubToken;
}

/** A backlog of the issues of one GitHub repository. */
export function createGithubBacklog(options: GithubBacklogOptions): Backlog {
  let session: Promise<Session> | undefined;
  const open = (): Promise<Session> => (session ??= openSession(options));
  let statusLabels: Promise<readonly string[]> | undefined;

  /** Run `request`, turning a refusal into the product's error (what it was doing named). */
  const call = async <T>(action: string, request: (s: Session) => Promise<T>): Promise<T> => {
    const s = await open();
    try {
      return await request(s);
    } catch (e) {
      throw githubFailure(e, { repo: `${s.owner}/${s.repo}`, action, token: s.token });
    }
  };

  const milestoneNumber = (milestone: number | string): number => {
    const n = Number(milestone);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new BadInputError(
        `milestone "${milestone}" is not a GitHub milestone number; the GitHub backlog needs one`,
      );
    return n;
  };

  const issuesOf = (milestone: number, state: 'open' | 'all'): Promise<Issue[]> =>
    call(`list the issues of milestone ${milestone}`, async ({ client, owner, repo }) => {
      // The milestone first: a missing one is a clear 404, where the issue list would say nothing.
      await client.rest.issues.getMilestone({ owner, repo, milestone_number: milestone });
      const all = (await client.paginate(client.rest.issues.listForRepo, {
        owner,
        repo,
        milestone: String(milestone),
        state,
        per_page: 100,
      })) as Issue[];
      return all.filter((i) => i.pull_request === undefined);
    });

  /** The repository's `status:*` labels (empty when it does not use status labels). */
  const repoStatusLabels = (): Promise<readonly string[]> =>
    (statusLabels ??= call('list labels', async ({ client, owner, repo }) => {
      const labels = await client.paginate(client.rest.issues.listLabelsForRepo, { owner, repo, per_page: 100 });
      return labels.map((l) => l.name).filter((n) => STATUS_LABEL.test(n));
    }));

  /** Put the issue's status label to `status` when the repository uses status labels. */
  const setStatusLabel = async (issue: Issue, status: BacklogStatus): Promise<void> => {
    const known = await repoStatusLabels();
    if (known.length === 0) return;
    const want = known.find((l) => STATUS_LABEL.exec(l)?.[1]?.trim().toLowerCase() === status) ?? `status:${status}`;
    const have = labelNames(issue).filter((l) => STATUS_LABEL.test(l));
    await call(`label #${issue.number}`, async ({ client, owner, repo }) => {
      for (const name of have.filter((l) => l !== want))
        await client.rest.issues
          .removeLabel({ owner, repo, issue_number: issue.number, name })
          .catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
      if (!have.includes(want))
        await client.rest.issues.addLabels({ owner, repo, issue_number: issue.number, labels: [want] });
    });
  };

  const getIssue = (issue: number): Promise<Issue | undefined> =>
    call(`read issue #${issue}`, async ({ client, owner, repo }) => {
      try {
        const { data } = await client.rest.issues.get({ owner, repo, issue_number: issue });
        return (data as Issue).pull_request === undefined ? (data as Issue) : undefined;
      } catch (e) {
        if (isNotFound(e) || (e as { status?: unknown }).status === 410) return undefined;
        throw e;
      }
    });

  return {
    kind: 'github',

    async readItem(issue) {
      const found = await getIssue(issue);
      const s = await open();
      return found && toItem(found, `${s.owner}/${s.repo}`);
    },

    async listItems(milestone) {
      const s = await open();
      const issues = await issuesOf(milestoneNumber(milestone), 'all');
      return issues.map((i) => toItem(i, `${s.owner}/${s.repo}`)).sort((a, b) => a.issue - b.issue);
    },

    async createItem(item: NewBacklogItem) {
      const milestone = milestoneNumber(item.milestone);
      const marker = item.marker === undefined ? undefined : markerLine(item.marker);
      if (marker !== undefined) {
        const found = (await this.listItems(milestone)).find((i) => i.body.includes(marker));
        if (found) return found;
      }
      const body = [formatSections(item.sections), marker].filter(Boolean).join('\n\n');
      const labels = [...(item.labels ?? []), ...(item.priority ? [item.priority] : [])];
      const created = await call('create an issue', async ({ client, owner, repo }) => {
        const { data } = await client.rest.issues.create({
          owner,
          repo,
          title: fitTitle(item.title),
          body,
          milestone,
          labels,
        });
        return data as Issue;
      });
      const s = await open();
      return toItem(created, `${s.owner}/${s.repo}`);
    },

    async setStatus(issue, status) {
      const found = await getIssue(issue);
      if (!found) throw new BadInputError(`#${issue} not found in the GitHub repository`);
      const state = status === 'done' ? 'closed' : 'open';
      if (found.state !== state)
        await call(`${state === 'closed' ? 'close' : 'reopen'} #${issue}`, ({ client, owner, repo }) =>
          client.rest.issues.update({ owner, repo, issue_number: issue, state }),
        );
      await setStatusLabel(found, status);
      return [];
    },

    async closeItem(issue, landedSha) {
      const found = await getIssue(issue);
      if (!found) throw new BadInputError(`#${issue} not found in the GitHub repository`);
      if (found.state === 'closed') return [];
      const marker = markerLine(LANDED_MARKER);
      await call(`comment on #${issue}`, async ({ client, owner, repo }) => {
        const comments = await client.paginate(client.rest.issues.listComments, {
          owner,
          repo,
          issue_number: issue,
          per_page: 100,
        });
        if (!comments.some((c) => c.body?.includes(marker)))
          await client.rest.issues.createComment({
            owner,
            repo,
            issue_number: issue,
            body: `Landed on main in ${landedSha} by work-milestone.\n\n${marker}`,
          });
      });
      await setStatusLabel(found, 'done');
      await call(`close #${issue}`, ({ client, owner, repo }) =>
        client.rest.issues.update({ owner, repo, issue_number: issue, state: 'closed', state_reason: 'completed' }),
      );
      return [];
    },

    async closeMilestone(milestone) {
      const n = milestoneNumber(milestone);
      if ((await issuesOf(n, 'open')).length > 0) return false;
      await call(`close milestone ${n}`, async ({ client, owner, repo }) => {
        const { data } = await client.rest.issues.getMilestone({ owner, repo, milestone_number: n });
        if (data.state !== 'closed')
          await client.rest.issues.updateMilestone({ owner, repo, milestone_number: n, state: 'closed' });
      });
      return true;
    },
  };
}

async function openSession(options: GithubBacklogOptions): Promise<Session> {
  const full = options.repo ?? (await originRepo(options.root));
  const [owner = '', repo = ''] = full.split('/');
  const token = await resolveToken(options.env);
  return { client: createGithubClient(token.token, apiBaseOf(options.env), options.env), owner, repo, token };
}

/** `owner/name` of origin's URL in `root`. */
async function originRepo(root: string): Promise<string> {
  const url = await new Promise<string>((resolve) =>
    execFile('git', ['remote', 'get-url', 'origin'], { cwd: root, timeout: 10_000 }, (error, stdout) =>
      resolve(error ? '' : stdout.trim()),
    ),
  );
  const repo = url ? repoOfRemoteUrl(url) : undefined;
  if (!repo)
    throw new BadInputError(
      `backlog: {kind: github} names no repo and origin's URL (${url || 'no origin'}) is not a GitHub repository; ` +
        'add repo: owner/name to the plan',
    );
  return repo;
}

function labelNames(issue: Issue): string[] {
  return issue.labels.flatMap((l) => (typeof l === 'string' ? [l] : l.name ? [l.name] : []));
}

function statusOf(issue: Issue, labels: readonly string[]): BacklogStatus {
  if (issue.state === 'closed') return 'done';
  const label = labels.map((l) => STATUS_LABEL.exec(l)?.[1]?.trim().toLowerCase()).find(Boolean);
  return label === 'in-progress' || label === 'blocked' ? label : 'open';
}

/** Issue numbers of `depends on #N` / `blocked by #N` lines of a body. */
function dependsOnOf(body: string): number[] {
  const found = new Set<number>();
  for (const line of body.split('\n')) {
    if (!/\b(depends on|blocked by)\b/i.test(line)) continue;
    for (const m of line.matchAll(/#(\d+)/g)) found.add(Number(m[1]));
  }
  return [...found];
}

function toItem(issue: Issue, repo: string): BacklogItem {
  const labels = labelNames(issue);
  const body = (issue.body ?? '').replace(/\r\n/g, '\n');
  return {
    issue: issue.number,
    title: issue.title,
    status: statusOf(issue, labels),
    milestone: issue.milestone?.number ?? null,
    priority: labels.map((l) => PRIORITY_LABEL.exec(l)?.[1]?.toUpperCase()).find(Boolean) ?? null,
    groomed: true,
    labels,
    dependsOn: dependsOnOf(body),
    body,
    sections: splitSections(body),
    source: `${repo}#${issue.number}`,
  };
}

function formatSections(sections: Readonly<Record<string, string>>): string {
  return Object.entries(sections)
    .map(([heading, text]) => `## ${oneLine(heading)}\n\n${text.trim()}`)
    .join('\n\n');
}
