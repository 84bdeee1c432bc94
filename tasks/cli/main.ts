/**
 * The one place where errors become exit codes and messages (docs/errors.md). A command's module is imported when
 * that command runs: `status` and `plan` never load the runner, listr2, the agents or the demo (docs/performance.md).
 */
import { DiagnosticsError } from '../lib/diagnostics.ts';
import { BadInputError, exitCodeOf, WorkMilestoneError } from '../lib/errors.ts';
import { STEP_IDS, type StepId } from '../engine/step.ts';
import { parseFlags } from './flags.ts';
import { HELP } from './help.ts';
import { flushOutput, processIo, type Io } from './io.ts';

/** Commands the scripts are. */
export type CommandName = 'run' | 'step' | 'plan' | 'status' | 'demo' | 'gates' | 'agent-job' | 'init-workflow';

/** The arguments after the script's own path in process.argv (works under `npx zx` and `node --import tsx`). */
export function scriptArgs(argv: readonly string[], script: string): string[] {
  const at = argv.findIndex((a) => a.endsWith(`${script}.mts`));
  return [...argv.slice(at >= 0 ? at + 1 : 2)];
}

/** Positional arguments of each command: [required…, optional…]. */
const POSITIONALS: Readonly<
  Record<CommandName, { readonly required: readonly string[]; readonly optional: readonly string[] }>
> = {
  run: { required: ['<N>'], optional: [] },
  step: { required: ['<step>', '<N>'], optional: [] },
  plan: { required: ['<N>'], optional: [] },
  status: { required: ['<N>'], optional: [] },
  gates: { required: [], optional: ['<N>'] },
  demo: { required: [], optional: [] },
  'agent-job': { required: ['<out-dir>'], optional: [] },
  'init-workflow': { required: [], optional: [] },
};

/** Bad input (exit 2) when an argument is missing, unknown or one too many. */
function checkPositionals(command: CommandName, positional: readonly string[]): void {
  const { required, optional } = POSITIONALS[command];
  const usage = `usage: ${[`${command}.mts`, ...required, ...optional.map((o) => `[${o}]`), '[flags]'].join(' ')}; see --help`;
  if (command === 'step' && positional.length > 0 && !STEP_IDS.includes(positional[0] as StepId)) {
    throw new BadInputError(`unknown step "${positional[0]}"; steps are: ${STEP_IDS.join(', ')}`);
  }
  if (positional.length < required.length) {
    const missing = required
      .slice(positional.length)
      .map((r) => (r === '<N>' ? 'milestone number' : r === '<out-dir>' ? 'output folder' : 'step'));
    throw new BadInputError(`missing ${missing.join(' and ')}; ${usage}`);
  }
  if (positional.length > required.length + optional.length)
    throw new BadInputError(`unexpected argument "${positional[required.length + optional.length]}"; ${usage}`);
}

async function dispatch(command: CommandName, args: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(args);
  if (flags.help) {
    io.out(HELP[command]);
    return 0;
  }
  checkPositionals(command, flags.positional);
  const [first] = flags.positional;
  switch (command) {
    case 'plan': {
      const { planCommand } = await import('./plan-command.ts');
      return planCommand(first ?? '', flags, io);
    }
    case 'status': {
      const { statusCommand } = await import('./status-command.ts');
      return statusCommand(first ?? '', flags, io);
    }
    case 'run':
    case 'step': {
      const { refuseAgentStart } = await import('../engine/create-context.ts');
      await refuseAgentStart(io.cwd, flags.repo, io.env);
      const { runCommand } = await import('./run-command.ts');
      return runCommand(command, flags.positional, flags, io);
    }
    case 'gates': {
      const { gatesCommand } = await import('./gates-command.ts');
      return gatesCommand(first ?? null, flags, io);
    }
    case 'agent-job': {
      const { agentJobCommand } = await import('./agent-job-command.ts');
      return agentJobCommand(first ?? '', flags, io);
    }
    case 'init-workflow': {
      const { initWorkflowCommand } = await import('./init-workflow-command.ts');
      return initWorkflowCommand(flags, io);
    }
    case 'demo': {
      const agent = flags.options.agent ?? 'claude';
      if (agent !== 'claude' && agent !== 'scripted')
        throw new BadInputError(`the demo runs --agent claude or --agent scripted, not ${agent}`);
      // Loaded only for this command; the demo gets the run command as a function, so it never imports this module.
      const { runDemo } = await import('../demo/run-demo.ts');
      return runDemo({ agent, dir: flags.repo, json: flags.json }, io, (runArgs, runIo) => main('run', runArgs, runIo));
    }
  }
}

/** Run a command; never throws; returns the exit code once what it printed is written (the script exits then). */
export async function main(command: CommandName, args: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number;
  try {
    code = await dispatch(command, args, io);
  } catch (error) {
    if (error instanceof DiagnosticsError || error instanceof WorkMilestoneError) {
      io.err(error.message);
    } else {
      io.err(`internal error: ${(error as Error).message}`);
      if (io.env.WM_DEBUG) io.err((error as Error).stack ?? '');
    }
    code = exitCodeOf(error);
  }
  await flushOutput();
  return code;
}
