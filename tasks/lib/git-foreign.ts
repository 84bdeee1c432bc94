/**
 * Commits that joined a branch without being built on it. Work made on top of `from` descends from it; a merge (or a
 * commit made with `commit-tree -p`) can also pull in commits from elsewhere: another item's branch, a newer main. Such
 * a commit is in the branch's history from then on, so git takes it as merged wherever it lands, whatever its content
 * was in the merge (`-s ours` drops it): the item it belongs to would later merge without it, or main's newer work
 * would be undone by the landing.
 */
import { git, isAncestor } from './git.ts';

/** Commits of `from..to` that do not descend from `from` (`[]` when everything there was built on it). */
export async function commitsNotBuiltOn(cwd: string, from: string, to: string): Promise<string[]> {
  if (from === to) return [];
  const [all, built] = await Promise.all([
    git(cwd, ['rev-list', `${from}..${to}`]),
    git(cwd, ['rev-list', '--ancestry-path', `${from}..${to}`]),
  ]);
  const own = new Set(built.split('\n').filter(Boolean));
  return all.split('\n').filter((sha) => sha && !own.has(sha));
}

/** Odd outside parents checked one by one at most (each is a git call); beyond, they count as strays unasked. */
const ODD_PARENTS_ASKED = 8;

/**
 * What a merge pass knows of its items' histories: one listing (`rev-list --topo-order --parents`) of what the
 * integration tip lacked when the pass started, for every judged tip of the pass, and which of those commits the
 * pass's merges have taken in since. Each item's own part is read from it, with no git call of its own.
 */
export interface PassHistory {
  /** Commit → parents, children before parents (git's topological order). */
  readonly listed: ReadonlyMap<string, readonly string[]>;
  /** Listed commits in the integration tip by now, each with the item whose merge took it in. */
  readonly merged: Map<string, number>;
  /** A merge the listing cannot follow (a tip it does not hold) was noted: git is asked from then on. */
  stale: boolean;
}

/** List what `start` lacks of `tips`, for a pass about to merge them. */
export async function readPassHistory(cwd: string, tips: readonly string[], start: string): Promise<PassHistory> {
  const listed = tips.length
    ? parseParents(await git(cwd, ['rev-list', '--topo-order', '--parents', ...tips, `^${start}`]))
    : new Map();
  return { listed, merged: new Map(), stale: false };
}

/** Note that item `issue`'s `tip` was merged by the pass: its listed commits are in the integration tip from now on. */
export function noteMerged(history: PassHistory | null, tip: string, issue: number): void {
  if (!history) return;
  // A tip made since the listing (a pre-merge fix on the judged one): what it took in is unknown to it.
  if (!history.listed.has(tip)) history.stale = true;
  for (const sha of reachable(history, tip)) history.merged.set(sha, issue);
}

/** The items of the pass whose merges took in any of `commits` (as far as the listing tells). */
export function takenBy(history: PassHistory | null, commits: readonly string[]): number[] {
  if (!history) return [];
  const issues = commits.flatMap((sha) => {
    const issue = history.merged.get(sha);
    return issue === undefined ? [] : [issue];
  });
  return [...new Set(issues)].sort((a, b) => a - b);
}

function parseParents(out: string): Map<string, readonly string[]> {
  const listed = new Map<string, readonly string[]>();
  for (const line of out.split('\n')) {
    const [sha, ...parents] = line.split(' ');
    if (sha) listed.set(sha, parents);
  }
  return listed;
}

/** The listed commits `tip` reaches that the pass has not merged yet. */
function reachable(history: PassHistory, tip: string): Set<string> {
  const seen = new Set<string>();
  const todo = [tip];
  for (let sha = todo.pop(); sha !== undefined; sha = todo.pop()) {
    if (seen.has(sha) || history.merged.has(sha)) continue;
    const parents = history.listed.get(sha);
    if (!parents) continue;
    seen.add(sha);
    todo.push(...parents);
  }
  return seen;
}

/** What `prev` lacks of `tip`, children first: from the pass's listing when it has `tip`, else asked of git. */
async function lacking(
  cwd: string,
  tip: string,
  prev: string,
  history: PassHistory | null,
): Promise<Map<string, readonly string[]>> {
  if (!history || history.stale || !history.listed.has(tip) || history.merged.has(tip))
    return parseParents(await git(cwd, ['rev-list', '--topo-order', '--parents', tip, `^${prev}`]));
  const mine = reachable(history, tip);
  const out = new Map<string, readonly string[]>();
  for (const [sha, parents] of history.listed) if (mine.has(sha)) out.set(sha, parents);
  return out;
}

/**
 * Commits merging `tip` (an item's judged tip, built on `base`) onto `prev` would take in that are not the item's own
 * work: `[]` when there are none. Two ways in: a commit of the branch not built on `base` (a merge of a newer main, or
 * of anything else, kept as history whatever its content), and a commit of the branch that `prev` holds already through
 * another item's merge (one that merged it `-s ours`, say: git would take it as merged, its content never landing).
 * What the item built on the integration branch's own commits since `base` (an agent that merged it in, or rebased
 * onto it) takes in nothing that was not merged whole, and counts as its own. Read from the pass's listing (`history`:
 * it must have been read from an ancestor of `prev`, every merge since noted), else one `rev-list`; more only when
 * something there is odd. When `base` is no longer in `prev` (an ejection rebuilt the integration branch) nothing is
 * said: git's own merge base decides, as before.
 */
export async function strayCommits(
  cwd: string,
  tip: string,
  prev: string,
  base: string,
  history: PassHistory | null = null,
): Promise<string[]> {
  const listed = await lacking(cwd, tip, prev, history);
  if (listed.has(base)) return [];
  // All of it in `prev` already, yet not merged by the queue: another merge took it in.
  if (listed.size === 0) return tip === base || (await isAncestor(cwd, tip, base)) ? [] : [tip];
  const outside = new Set<string>();
  for (const parents of listed.values()) for (const p of parents) if (!listed.has(p)) outside.add(p);
  const anchors = new Set([base]);
  if ([...outside].some((p) => p !== base)) {
    const own = await git(cwd, ['rev-list', '--first-parent', `${base}..${prev}`]);
    for (const sha of own.split('\n')) if (sha) anchors.add(sha);
  }
  // Parents first (topo order lists children first): built when one parent is an anchor or a built commit of the list.
  const built = new Set<string>();
  const strays: string[] = [];
  for (const [sha, parents] of [...listed].reverse()) {
    if (parents.some((p) => anchors.has(p) || built.has(p))) built.add(sha);
    else strays.push(sha);
  }
  // A parent `prev` has that is older than `base` is the repository's history; any other came in by another merge.
  const odd = [...outside].filter((p) => !anchors.has(p));
  for (const p of odd.slice(0, ODD_PARENTS_ASKED)) if (!(await isAncestor(cwd, p, base))) strays.push(p);
  strays.push(...odd.slice(ODD_PARENTS_ASKED));
  return strays;
}
