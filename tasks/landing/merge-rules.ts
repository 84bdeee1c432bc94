/**
 * How the repository wants pull requests into main merged, as far as the token can read it: whether main requires a
 * merge queue (a `merge_queue` rule), whether the repository allows auto-merge, and which checks are required (the
 * branch's protection and rules). What the token cannot read counts as not required; GitHub's answer to the merge
 * then says the rest.
 */
import { MAIN_BRANCH } from '../lib/paths.ts';
import { call, isUnreadable, type PullSession } from './pull-session.ts';

/** The merge settings of main. */
export interface MergeRules {
  /** Main requires its merge queue: pull requests are enqueued, never merged through the REST API. */
  readonly queue: boolean;
  /** The repository allows auto-merge (`allow_auto_merge`). */
  readonly autoMerge: boolean;
  /** The required check names, or null when none could be read (then every check of the head counts). */
  readonly required: readonly string[] | null;
}

/** A rule of a branch as GitHub lists it (the fields used here). */
interface BranchRule {
  readonly type: string;
  readonly parameters?: { readonly required_status_checks?: ReadonlyArray<{ readonly context: string }> };
}

/** `fn`'s answer, or `fallback` when the token may not read it (403, 404). */
async function readable<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isUnreadable(error)) return fallback;
    throw error;
  }
}

/** Read main's merge settings: the repository, main's rules and main's protection (three requests). */
export async function mergeRulesOf(s: PullSession): Promise<MergeRules> {
  const where = { owner: s.owner, repo: s.repo };
  const { data: repository } = await call(s, 'read the repository', 'metadata', () => s.client.rest.repos.get(where));
  const rules = (await call(s, `read the rules of ${MAIN_BRANCH}`, 'metadata', () =>
    readable(
      async () =>
        (
          await s.client.paginate(s.client.rest.repos.getBranchRules, {
            ...where,
            branch: MAIN_BRANCH,
            per_page: 100,
          })
        ).map((r) => r as BranchRule),
      [] as BranchRule[],
    ),
  )) as readonly BranchRule[];
  const branch = await call(s, `read the protection of ${MAIN_BRANCH}`, 'contents', () =>
    readable(async () => (await s.client.rest.repos.getBranch({ ...where, branch: MAIN_BRANCH })).data, null),
  );
  const protection = branch?.protection?.required_status_checks;
  const required = new Set<string>([
    ...(protection?.contexts ?? []),
    ...(protection?.checks ?? []).map((c) => c.context),
    ...rules.flatMap((r) =>
      r.type === 'required_status_checks' ? (r.parameters?.required_status_checks ?? []).map((c) => c.context) : [],
    ),
  ]);
  return {
    queue: rules.some((r) => r.type === 'merge_queue'),
    autoMerge: repository.allow_auto_merge === true,
    required: required.size > 0 ? [...required].sort() : null,
  };
}
