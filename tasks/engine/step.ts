/** The one shape every step has: a read-only check and an idempotent run. */
import type { Ctx } from './context.ts';

/** Step ids in graph order (docs/steps.md). */
export const STEP_IDS = [
  'validate',
  'prepare',
  'branch',
  'fetch',
  'worktrees',
  'spawn',
  'wait',
  'merge',
  'relay',
  'gates',
  'land',
  'complete',
] as const;

/** A step id. */
export type StepId = (typeof STEP_IDS)[number];

/** Steps that run once per wave (spawn also once per item). */
export const WAVE_STEPS: ReadonlySet<StepId> = new Set(['worktrees', 'spawn', 'wait', 'merge', 'relay']);

/** What a node is about: the whole milestone, a wave, or one item of a wave. */
export interface Scope {
  readonly wave?: number;
  readonly issue?: number;
}

/** Answer of a check: done, or what is left to do. */
export type Check =
  { readonly kind: 'done'; readonly detail?: string } | { readonly kind: 'todo'; readonly reason: string };

/** A step module. */
export interface Step {
  readonly id: StepId;
  /** Read-only: is the work of this node done? Asked of git, files and state. */
  check(ctx: Ctx, scope: Scope): Promise<Check>;
  /** Do the work; safe to repeat after a crash at any point. */
  run(ctx: Ctx, scope: Scope, progress: Progress): Promise<void>;
}

/** Where a running step reports progress (the renderer shows it). */
export interface Progress {
  output(line: string): void;
}

/** Done. */
export const DONE: Check = { kind: 'done' };

/** Todo with a reason. */
export function todo(reason: string): Check {
  return { kind: 'todo', reason };
}
