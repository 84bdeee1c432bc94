/** Which executor runs a handle's agent: a new executor adds its module and one case here (docs/executors.md). */
import { localExecutor } from './local/local-executor.ts';
import type { Executor, ExecutorKind } from './types.ts';

/** The executor of handles of `kind`. */
export function executorFor(kind: ExecutorKind): Executor {
  switch (kind) {
    case 'local':
      return localExecutor;
  }
}
