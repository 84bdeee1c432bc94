/** The adapter for each agent kind. */
import type { AgentKind } from '../lib/plan/types.ts';
import { claudeAgent } from './claude.ts';
import { codexAgent } from './codex.ts';
import { commandAgent } from './command.ts';
import { scriptedAgent } from './scripted.ts';
import type { AgentAdapter } from './types.ts';

/** The adapter of `kind`. */
export function adapterFor(kind: AgentKind): AgentAdapter {
  switch (kind) {
    case 'claude':
      return claudeAgent;
    case 'command':
      return commandAgent;
    case 'scripted':
      return scriptedAgent;
    case 'codex':
      return codexAgent;
  }
}
