/** prepare: the user's checkout must be clean; a dirty one is stashed with consent. */
import { firstOf } from '../lib/bounded-text.ts';
import { commandLine } from '../lib/command-words.ts';
import { BadInputError } from '../lib/errors.ts';
import { git, gitRaw } from '../lib/git.ts';
import { dirtyPaths } from '../lib/git-status.ts';
import { refSurelyAbsent } from '../lib/git-files.ts';
import { LINKED_FOLDERS } from '../lib/paths.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import type { Ctx } from '../engine/context.ts';

/** The stash message the seed uses. */
export function stashMessage(branch: string): string {
  return `work-milestone: pre-run ${branch}`;
}

/** A stash of ours made after `since` but not recorded (a crash between stash and record), or null. */
async function unrecordedStash(ctx: Ctx, branch: () => Promise<string>): Promise<string | null> {
  const since = ctx.store.current().plan?.validatedAt;
  // No stash at all (no refs/stash file or packed line): nothing to find, no git call.
  if (!since || refSurelyAbsent(ctx.commonDir, 'refs/stash')) return null;
  const name = stashMessage(await branch());
  const out = await gitRaw(ctx.repo, ['stash', 'list', '--format=%H %ct %gs']);
  for (const line of out.stdout.split('\n')) {
    const [sha, time, ...rest] = line.split(' ');
    if (sha && rest.join(' ').endsWith(name) && Number(time) * 1000 >= Date.parse(since) - 1000) return sha;
  }
  return null;
}

async function currentBranch(repo: string): Promise<string> {
  const out = await gitRaw(repo, ['symbolic-ref', '--short', '-q', 'HEAD']);
  return out.stdout.trim() || 'HEAD';
}

/** What git stash cannot clean, and what the user does about it. */
const CANNOT_STASH =
  'a submodule at another commit or with changes inside it, or line endings git changes on every checkout (text ' +
  'files committed with CRLF under an `eol` attribute)';
const SETTLE_IT =
  'commit it (`git add --renormalize .` for line endings), put a submodule back (`git submodule update`) or clean ' +
  'inside it (`git -C <path> status` shows what is there)';

/** A path of the dependency folders item worktrees link to (`node_modules/`, `.venv/x`). */
const isLinkedFolder = (p: string) => LINKED_FOLDERS.some((f) => p === f || p.startsWith(`${f}/`));

/** prepare step. */
export const prepare: Step = {
  id: 'prepare',
  async check(ctx) {
    // Whatever the checkout holds, nothing says this milestone's run looked at it until run records it: no git here
    // (run reads the checkout itself, and a `step` that needs prepare points at `step prepare`, which says more).
    return ctx.store.current().prepare ? DONE : todo('the working tree is not checked yet');
  },
  async run(ctx, _scope, progress) {
    // The branch is read only when a stash is made or looked for.
    let read: Promise<string> | null = null;
    const current = () => (read ??= currentBranch(ctx.repo));
    // Dependency folders a repository does not ignore are not the user's work: stashed, they would leave the
    // checkout (and every item worktree's link) without them for the whole run. git ignores them from the first
    // merge on (the runner excludes them).
    const dirty = (await dirtyPaths(ctx.repo)).filter((p) => !isLinkedFolder(p));
    if (dirty.length === 0) {
      const sha = await unrecordedStash(ctx, current);
      const branch = sha ? await current() : null;
      await ctx.store.update((s) => {
        s.prepare = sha
          ? { kind: 'stashed', sha, branch: branch ?? 'HEAD', at: new Date().toISOString() }
          : { kind: 'clean', at: new Date().toISOString() };
      });
      return;
    }
    const yes = ctx.options.yes || (await ctx.confirm('Stash uncommitted changes? [y/N] '));
    if (!yes) {
      const shown = `${dirty.slice(0, 3).join(', ')}${dirty.length > 3 ? `, … ${dirty.length - 3} more` : ''}`;
      const again = commandLine(ctx.entry, 'run', [ctx.plan.milestone.id, '--yes']);
      throw new BadInputError(
        `Aborting: working tree is dirty (${dirty.length} path(s): ${shown}); commit or stash your changes and re-run, or re-run with --yes to have them stashed: ${again}`,
      );
    }
    const branch = await current();
    const stashRef = async () =>
      refSurelyAbsent(ctx.commonDir, 'refs/stash')
        ? null
        : (await gitRaw(ctx.repo, ['rev-parse', '-q', '--verify', 'refs/stash'])).stdout.trim() || null;
    const before = await stashRef();
    await git(ctx.repo, [
      'stash',
      'push',
      '-u',
      '-m',
      stashMessage(branch),
      '--',
      '.',
      ...LINKED_FOLDERS.map((f) => `:(exclude,top)${f}`),
    ]);
    const sha = await stashRef();
    // git saved nothing (a submodule at another commit is dirty but no stash holds it): the newest stash is someone
    // else's, and landing would find the checkout as dirty as now.
    if (!sha || sha === before)
      throw new BadInputError(
        `git stash could not save what makes the working tree dirty (${firstOf(dirty, 3)}): ${CANNOT_STASH}; ` +
          `${SETTLE_IT}, then run again`,
      );
    const left = (await dirtyPaths(ctx.repo)).filter((p) => !isLinkedFolder(p));
    if (left.length > 0)
      throw new BadInputError(
        `git stash saved the working tree's changes as ${sha.slice(0, 10)} but ${firstOf(left, 3)} still ` +
          `${left.length === 1 ? 'differs' : 'differ'} (${CANNOT_STASH}); ${SETTLE_IT}, restore what was saved with ` +
          '`git stash pop`, then run again',
      );
    await ctx.store.update((s) => {
      s.prepare = { kind: 'stashed', sha, branch, at: new Date().toISOString() };
    });
    progress.output(`stashed ${dirty.length} path(s) as ${sha.slice(0, 10)}`);
  },
};
