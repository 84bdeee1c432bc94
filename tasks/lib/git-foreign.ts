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
 * work on `base`: `[]` when there are none. Two ways in: a commit of the branch not built on `base` (a merge of a
 * newer main, or of anything else, kept as history whatever its content), and a commit of the branch that `prev`
 * holds already (another item merged it in, `-s ours` say: git would take it as merged, its content never landing).
 * One `rev-list` of what `prev` lacks; more only when something there is odd. When `base` is no longer in `prev` (an
 * ejection rebuilt the integration branch) nothing is said: git's own merge base decides, as before.
 */
export async function strayCommits(cwd: string, tip: string, prev: string, base: string): Promise<string[]> {
  const out = await git(cwd, ['rev-list', '--topo-order', '--parents', tip, `^${prev}`]);
  const listed = new Map<string, readonly string[]>();
  for (const line of out.split('\n')) {
    const [sha, ...parents] = line.split(' ');
    if (sha) listed.set(sha, parents);
  }
  if (listed.size === 0 || listed.has(base)) return [];
  // Parents first (topo order lists children first): built when one parent is `base` or a built commit of the list.
  const built = new Set<string>();
  const strays: string[] = [];
  const outside = new Set<string>();
  for (const [sha, parents] of [...listed].reverse()) {
    if (parents.some((p) => p === base || built.has(p))) built.add(sha);
    else strays.push(sha);
    for (const p of parents) if (p !== base && !listed.has(p)) outside.add(p);
  }
  // A parent `prev` has that is older than `base` is the repository's history; any other came in by another merge.
  const odd = [...outside];
  for (const p of odd.slice(0, ODD_PARENTS_ASKED)) if (!(await isAncestor(cwd, p, base))) strays.push(p);
  strays.push(...odd.slice(ODD_PARENTS_ASKED));
  return strays;
}
