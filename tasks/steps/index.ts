/** Every step module by id. */
import { branch } from './branch.ts';
import { complete } from './complete.ts';
import { fetchBacklog } from './fetch.ts';
import { gates } from './gates.ts';
import { land } from './land.ts';
import { merge } from './merge.ts';
import { prepare } from './prepare.ts';
import { relay } from './relay.ts';
import { spawn } from './spawn.ts';
import type { Step, StepId } from '../engine/step.ts';
import { validate } from './validate.ts';
import { wait } from './wait.ts';
import { worktrees } from './worktrees.ts';

/** The step module of each id. */
export const STEPS: Readonly<Record<StepId, Step>> = {
  validate,
  prepare,
  branch,
  fetch: fetchBacklog,
  worktrees,
  spawn,
  wait,
  merge,
  relay,
  gates,
  land,
  complete,
};
