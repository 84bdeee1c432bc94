/**
 * The `command` agent: `sh -c <command>` in the worktree; stdout is the report, the exit code the result. The prompt
 * is the file WM_PROMPT_FILE names; stdin is /dev/null.
 */
import { BadInputError } from '../lib/errors.ts';
import { plainOutcome, type AgentAdapter } from './types.ts';

/** command adapter. */
export const commandAgent: AgentAdapter = {
  kind: 'command',
  launch(inv) {
    if (!inv.settings.command)
      throw new BadInputError(`#${inv.issue}: agent command needs defaults.command in the plan or --agent-command`);
    return { file: 'sh', args: ['-c', inv.settings.command], env: {} };
  },
  parse: plainOutcome,
};
