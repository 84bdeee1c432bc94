/** Which executor runs a handle's agent: a new executor adds its module and one case here (docs/executors.md). */
import { githubActionsExecutor } from './github-actions/github-actions-executor.ts';
import { kubernetesExecutor } from './kubernetes/kubernetes-executor.ts';
import { localExecutor } from './local/local-executor.ts';
import type { Executor, ExecutorKind } from './types.ts';

/** One remote executor per environment: each keeps the last answer per run, so polls share it. */
const remoteExecutors = new WeakMap<NodeJS.ProcessEnv, Executor>();

/** The executor of handles of `kind`; a remote one takes its token from `env`. */
export function executorFor(kind: ExecutorKind, env: NodeJS.ProcessEnv = process.env): Executor {
  switch (kind) {
    case 'local':
      return localExecutor;
    case 'github-actions': {
      let executor = remoteExecutors.get(env);
      if (!executor) remoteExecutors.set(env, (executor = githubActionsExecutor(env)));
      return executor;
    }
    case 'kubernetes':
      return kubernetesExecutor(env);
  }
}
