/** gates: not built yet. */
import { StepFailedError } from './lib/errors.ts';
import { todo, type Step } from './step.ts';

/** gates step. */
export const gates: Step = {
  id: 'gates',
  async check() {
    return todo('not built yet');
  },
  async run() {
    throw new StepFailedError('step gates is not built yet');
  },
};
