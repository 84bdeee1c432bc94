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
 * Commits merging `tip` (an item's judged tip, built on `base`) onto `prev` would take in that are not the item's own
 * work: `[]` when there are none. Two ways in: a commit of the branch not built on `base` (a merge of a newer main, or
 * of anything else, kept as history whatever its content), and a commit of the branch that `prev` holds already through
 * another item's merge (one that merged it `-s ours`, say: git would take it as merged, its content never landing).
 * What the item built on the integration branch's own commits since `base` (an agent that merged it in, or rebased
 * onto it) takes in nothing that was not merged whole, and counts as its own. One `rev-list` of what `prev` lacks;
 * more only when something there is odd. When `base` is no longer in `prev` (an ejection rebuilt the integration
 * branch) nothing is said: git's own merge base decides, as before.
 */
export async function strayCommits(cwd: string, tip: string, prev: string, base: string): Promise<string[]> {
  const out = await git(cwd, ['rev-list', '--topo-order', '--parents', tip, `^${prev}`]);
  const listed = new Map<string, readonly string[]>();
  for (const line of out.split('\n')) {
    const [sha, ...parents] = line.split(' ');
    if (sha) listed.set(sha, parents);
  }
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
