/** complete: not built yet. */
import { StepFailedError } from './lib/errors.ts';
import { todo, type Step } from './step.ts';

/** complete step. */
export const complete: Step = {
  id: 'complete',
  async check() {
    return todo('not built yet');
  },
  async run() {
    throw new StepFailedError('step complete is not built yet');
  },
};
