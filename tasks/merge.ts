/** merge: not built yet. */
import { StepFailedError } from './lib/errors.ts';
import { todo, type Step } from './step.ts';

/** merge step. */
export const merge: Step = {
  id: 'merge',
  async check() {
    return todo('not built yet');
  },
  async run() {
    throw new StepFailedError('step merge is not built yet');
  },
};
