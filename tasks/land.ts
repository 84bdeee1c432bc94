/** land: not built yet. */
import { StepFailedError } from './lib/errors.ts';
import { todo, type Step } from './step.ts';

/** land step. */
export const land: Step = {
  id: 'land',
  async check() {
    return todo('not built yet');
  },
  async run() {
    throw new StepFailedError('step land is not built yet');
  },
};
