/**
 * Commits that joined a branch without being built on it. Work made on top of `from` descends from it; a merge (or a
 * commit made with `commit-tree -p`) can also pull in commits from elsewhere: another item's branch, a newer main. Such
 * a commit is in the branch's history from then on, so git takes it as merged wherever it lands, whatever its content
 * was in the merge (`-s ours` drops it): the item it belongs to would later merge without it, or main's newer work
 * would be undone by the landing.
 */
import { git } from './git.ts';

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
