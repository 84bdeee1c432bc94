/**
 * Bisecting red gates (docs/bisection.md): candidate integration tips are checked out in a scratch worktree of the
 * state folder, and only the red gates run on each. Each probe is recorded in state as it ends, so a runner killed in
 * the middle resumes the search where it was.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import type { Progress } from '../engine/step.ts';
import { InterruptedError } from '../lib/errors.ts';
import { addWorktree, git, gitOk } from '../lib/git.ts';
import type { Gate } from '../lib/plan/types.ts';
import type { BisectProbe, Bisection, GateResult } from '../lib/state-types.ts';
import { nextBisectStep, type ProbeVerdict } from './bisect-search.ts';
import { noteLeftProcesses, runGates } from './gate-run.ts';

/** A gate with the phase it runs in. */
export interface PhasedGate {
  readonly gate: Gate;
  readonly phase: GateResult['phase'];
}

/**
 * What a bisection found: the change that turns the gates red (1-based index into `changes`), the gates red on the
 * last green tip itself (nothing since broke them: their log), or why nothing can be blamed.
 */
export type BisectOutcome =
  | { readonly kind: 'culprit'; readonly bisection: Bisection; readonly index: number; readonly probe: BisectProbe }
  | { readonly kind: 'red-base'; readonly bisection: Bisection; readonly log: string | null }
  | { readonly kind: 'unexplained'; readonly bisection: Bisection; readonly reason: string };

/**
 * The scratch worktree candidates are checked out in: beside the integration worktree, so gates see the same kind of
 * path (tools such as ESLint skip everything under a `.git` folder, where the state folder is).
 */
export function scratchDirOf(ctx: Ctx): string {
  return `${ctx.integrationWorktree}-bisect`;
}

/** First-parent commits of integration after `base` up to `head`, oldest first, each with the item it merged. */
export async function listChanges(ctx: Ctx, base: string, head: string): Promise<Bisection['changes']> {
  const shas = (await git(ctx.repo, ['rev-list', '--first-parent', '--reverse', `${base}..${head}`]))
    .split('\n')
    .filter(Boolean);
  // An empty merge made no commit of its own: its recorded sha is an earlier change's.
  const merged = new Map<string, number>();
  for (const item of Object.values(ctx.store.current().items))
    if (item.merge?.sha && item.merge.kind !== 'empty') merged.set(item.merge.sha, item.issue);
  return shas.map((sha) => ({ sha, issue: merged.get(sha) ?? null }));
}

/** The scratch worktree, clean, with `sha` checked out (detached). */
export async function scratchAt(ctx: Ctx, sha: string): Promise<string> {
  const scratch = scratchDirOf(ctx);
  if (!existsSync(path.join(scratch, '.git'))) {
    await git(ctx.repo, ['worktree', 'prune']);
    await addWorktree(ctx.repo, ctx.commonDir, ['--detach', scratch, sha]);
  } else {
    // A cherry-pick a killed runner left half done goes with the reset.
    await git(scratch, ['reset', '-q', '--hard']);
    await git(scratch, ['checkout', '-q', '-f', '--detach', sha]);
  }
  // Ignored files (installed dependencies, build caches) stay, as they would in the integration worktree.
  await git(scratch, ['clean', '-fdq']);
  return scratch;
}

/** Run `gate` on `sha` in the scratch worktree: its result when red, else null. */
export async function runGateAt(ctx: Ctx, gate: PhasedGate, sha: string, logDir: string): Promise<GateResult | null> {
  const dir = await scratchAt(ctx, sha);
  const run = await runGates([gate], dir, logDir, ctx.env);
  noteLeftProcesses(ctx.events, run);
  for (const r of run.results)
    ctx.events.emit({ type: 'gate', name: r.name, phase: r.phase, exitCode: r.exitCode, sha });
  return run.results.find((r) => r.exitCode !== 0) ?? null;
}

/** Remove the scratch worktree (when the gates are done with it). */
export async function removeScratch(ctx: Ctx): Promise<void> {
  const dir = scratchDirOf(ctx);
  if (existsSync(dir)) await gitOk(ctx.repo, ['worktree', 'remove', '--force', dir]);
}

/** Whether `sha` is a merge commit. */
async function isMerge(cwd: string, sha: string): Promise<boolean> {
  return (await git(cwd, ['rev-list', '--parents', '-n', '1', sha])).split(' ').length > 2;
}

/** Apply the change one first-parent commit made (a merge: against its first parent) to the worktree, uncommitted. */
export async function applyChange(scratch: string, sha: string): Promise<boolean> {
  const args = [
    'cherry-pick',
    '--no-commit',
    '--allow-empty',
    ...((await isMerge(scratch, sha)) ? ['-m', '1'] : []),
    sha,
  ];
  if (await gitOk(scratch, args)) return true;
  await gitOk(scratch, ['cherry-pick', '--abort']);
  await git(scratch, ['reset', '-q', '--hard']);
  return false;
}

/** The items tip `index` holds since the base (in merge order). */
function itemsUpTo(bisection: Bisection, index: number): number[] {
  return bisection.changes.slice(0, index).flatMap((c) => (c.issue === null ? [] : [c.issue]));
}

/**
 * Run the red gates on candidate `index`: the tip after the first `index` changes (`prefix`), or that tip plus the
 * change of `culprit` alone (`with-culprit`). Recorded in state.
 */
async function probe(
  ctx: Ctx,
  gates: readonly PhasedGate[],
  bisection: Bisection,
  mode: BisectProbe['mode'],
  index: number,
  culprit: number | null,
  progress: Progress,
): Promise<BisectProbe> {
  const tip = index === 0 ? bisection.base : (bisection.changes[index - 1]?.sha as string);
  const dir = await scratchAt(ctx, tip);
  let items = itemsUpTo(bisection, index);
  let applied = true;
  if (mode === 'with-culprit' && culprit !== null) {
    const change = bisection.changes[culprit - 1] as Bisection['changes'][number];
    applied = await applyChange(dir, change.sha);
    if (change.issue !== null) items = [...items, change.issue];
  }
  let result: BisectProbe;
  if (!applied) {
    result = { mode, index, sha: tip, items, green: false, log: null };
  } else {
    const label = `${mode}-${index}${culprit !== null && mode === 'with-culprit' ? `-with-${culprit}` : ''}`;
    const logDir = path.join(ctx.stateDir, 'gates', `bisect-${bisection.head.slice(0, 12)}`, label);
    const run = await runGates(gates, dir, logDir, ctx.env);
    noteLeftProcesses(ctx.events, run);
    const red = run.results.find((r) => r.exitCode !== 0);
    result = { mode, index, sha: tip, items, green: run.green, log: red?.log ?? null };
  }
  ctx.events.emit({
    type: 'notice',
    message: `bisect: ${describeProbe(result)} → ${result.green ? 'green' : result.log ? 'red' : 'does not apply'}`,
  });
  progress.output(`bisect: ${describeProbe(result)} → ${result.green ? 'green' : 'red'}`);
  await ctx.store.update(
    (s) => {
      const b = s.bisection;
      if (b) b.probes = [...b.probes, result];
    },
    { durable: true },
  );
  return result;
}

/** One line: which items a candidate holds. */
export function describeProbe(p: BisectProbe): string {
  const items = p.items.length ? p.items.map((i) => `#${i}`).join(' ') : 'none';
  return `${p.sha.slice(0, 10)}${p.mode === 'with-culprit' ? ' + the culprit alone' : ''} (items: ${items})`;
}

/** The verdicts of the probes of one mode so far. */
function verdictsOf(bisection: Bisection, mode: BisectProbe['mode']): Map<number, ProbeVerdict> {
  return new Map(bisection.probes.filter((p) => p.mode === mode).map((p) => [p.index, p.green ? 'green' : 'red']));
}

/** Start (or resume, when state holds one for the same tips) the bisection of red gates on `head` from green `base`. */
async function openBisection(ctx: Ctx, gates: readonly PhasedGate[], base: string, head: string): Promise<Bisection> {
  const known = ctx.store.current().bisection;
  if (known && known.head === head && known.base === base) return known;
  const bisection: Bisection = {
    head,
    base,
    gates: gates.map((g) => g.gate.name),
    changes: await listChanges(ctx, base, head),
    probes: [],
  };
  await ctx.store.update(
    (s) => {
      s.bisection = structuredClone(bisection) as typeof s.bisection;
    },
    { durable: true },
  );
  return bisection;
}

/**
 * Find the first change after `base` (green) that turns `gates` red on `head`: ⌈log2 n⌉ probes of prefixes, and one of
 * the base itself when the first change is blamed (the base is assumed green otherwise).
 */
export async function findCulprit(
  ctx: Ctx,
  gates: readonly PhasedGate[],
  base: string,
  head: string,
  progress: Progress,
): Promise<BisectOutcome> {
  let bisection = await openBisection(ctx, gates, base, head);
  const n = bisection.changes.length;
  if (n === 0) return { kind: 'unexplained', bisection, reason: 'no change since the last green tip' };
  for (;;) {
    const next = nextBisectStep(n, verdictsOf(bisection, 'prefix'));
    if (next.kind === 'found') {
      if (next.index === 1 && !verdictsOf(bisection, 'prefix').has(0)) {
        await probe(ctx, gates, bisection, 'prefix', 0, null, progress);
        bisection = ctx.store.current().bisection as Bisection;
        continue;
      }
      if (verdictsOf(bisection, 'prefix').get(0) === 'red')
        return {
          kind: 'red-base',
          bisection,
          log: bisection.probes.find((p) => p.mode === 'prefix' && p.index === 0)?.log ?? null,
        };
      const change = bisection.changes[next.index - 1] as Bisection['changes'][number];
      if (change.issue === null)
        return {
          kind: 'unexplained',
          bisection,
          reason: `commit ${change.sha.slice(0, 10)}, which merged no item, turns the gates red`,
        };
      const redProbe = bisection.probes.find((p) => p.mode === 'prefix' && p.index === next.index) ?? {
        mode: 'prefix' as const,
        index: next.index,
        sha: next.index === n ? head : change.sha,
        items: itemsUpTo(bisection, next.index),
        green: false,
        log: null,
      };
      return { kind: 'culprit', bisection, index: next.index, probe: redProbe };
    }
    if (ctx.signal.aborted) throw new InterruptedError('interrupted while bisecting the red gates');
    await probe(ctx, gates, bisection, 'prefix', next.index, null, progress);
    bisection = ctx.store.current().bisection as Bisection;
  }
}

/**
 * Whether the culprit (change `culprit`) breaks the gates alone; if it does not, the earlier change it breaks them
 * with (its partner): the culprit applied on each prefix, halving as before. Null partner = the culprit alone.
 */
export async function findPartner(
  ctx: Ctx,
  gates: readonly PhasedGate[],
  culprit: number,
  progress: Progress,
): Promise<number | null> {
  let bisection = ctx.store.current().bisection as Bisection;
  if (culprit <= 1) return null;
  for (;;) {
    const verdicts = verdictsOf(bisection, 'with-culprit');
    const alone = verdicts.get(0);
    if (alone === undefined) {
      await probe(ctx, gates, bisection, 'with-culprit', 0, culprit, progress);
      bisection = ctx.store.current().bisection as Bisection;
      continue;
    }
    if (alone === 'red') return null;
    // Prefix culprit-1 plus the culprit is the red tip itself.
    const next = nextBisectStep(culprit - 1, verdicts);
    if (next.kind === 'found') return next.index;
    if (ctx.signal.aborted) throw new InterruptedError('interrupted while bisecting the red gates');
    await probe(ctx, gates, bisection, 'with-culprit', next.index, culprit, progress);
    bisection = ctx.store.current().bisection as Bisection;
  }
}
