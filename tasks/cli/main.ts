/**
 * The one place where errors become exit codes and messages (docs/errors.md). A command's module is imported when
 * that command runs: `status` and `plan` never load the runner, listr2, the agents or the demo (docs/performance.md).
 */
import { usageLine } from '../lib/command-words.ts';
import { DiagnosticsError } from '../lib/diagnostics.ts';
import { didYouMean } from '../lib/did-you-mean.ts';
import { isCode } from '../lib/fs-paths.ts';
import { BadInputError, exitCodeOf, WorkMilestoneError } from '../lib/errors.ts';
import { STEP_IDS, type StepId } from '../engine/step.ts';
import { parseFlags } from './flags.ts';
import { BIN_HELP, COMMAND_NAMES, HELP, type CommandName } from './help.ts';
import { flushOutput, processIo, type Io } from './io.ts';
import { packageVersion } from '../lib/package-root.ts';

export type { CommandName } from './help.ts';

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
  list: { required: [], optional: [] },
  reset: { required: ['<N>'], optional: [] },
  completion: { required: ['bash|zsh'], optional: [] },
};

/** What a missing positional is called in the message. */
const MISSING_NAMES: Readonly<Record<string, string>> = {
  '<N>': 'milestone number',
  '<step>': 'step',
  'bash|zsh': 'shell (bash or zsh)',
  '<out-dir>': 'output folder',
};

/** Bad input (exit 2) when an argument is missing, unknown or one too many. */
function checkPositionals(command: CommandName, positional: readonly string[], io: Io): void {
  const { required, optional } = POSITIONALS[command];
  const usage = usageLine(io.entry, command, [...required, ...optional.map((o) => `[${o}]`), '[flags]']);
  const step = positional[0];
  if (command === 'step' && step !== undefined && !STEP_IDS.includes(step as StepId)) {
    throw new BadInputError(
      `unknown step "${step}"${didYouMean(step, STEP_IDS) || `; steps are: ${STEP_IDS.join(', ')}`}`,
    );
  }
  if (positional.length < required.length) {
    const missing = required.slice(positional.length).map((r) => MISSING_NAMES[r] ?? r);
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
  if (flags.version) {
    io.out(packageVersion());
    return 0;
  }
  checkPositionals(command, flags.positional, io);
  const [first] = flags.positional;
  switch (command) {
    case 'plan':
      return (await import('./plan-command.ts')).planCommand(first ?? '', flags, io);
    case 'status':
      return (await import('./status-command.ts')).statusCommand(first ?? '', flags, io);
    case 'run':
    case 'step': {
      // The runner's modules load while git is asked where the repository is.
      const loading = import('./run-command.ts');
      loading.catch(() => undefined);
      const { refuseAgentStart } = await import('../engine/create-context.ts');
      const root = await refuseAgentStart(io.cwd, flags.repo, io.env);
      return (await loading).runCommand(command, flags.positional, flags, io, root);
    }
    case 'gates':
      return (await import('./gates-command.ts')).gatesCommand(first ?? null, flags, io);
    case 'list':
      return (await import('./list-command.ts')).listCommand(flags, io);
    case 'reset':
      return (await import('./reset-command.ts')).resetCommand(first ?? '', flags, io);
    case 'completion':
      return (await import('./completion-command.ts')).completionCommand(first ?? '', flags, io);
    case 'agent-job':
      return (await import('./agent-job-command.ts')).agentJobCommand(first ?? '', flags, io);
    case 'init-workflow':
      return (await import('./init-workflow-command.ts')).initWorkflowCommand(flags, io);
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

/**
 * A full disk (or quota) is the user's to fix, not an internal error: what was written is whole (state is replaced
 * atomically, the journal's torn last line is skipped), so the same command resumes once there is room.
 */
function diskFull(error: NodeJS.ErrnoException): string {
  const where = error.path && !error.message.includes(error.path) ? ` (${error.path})` : '';
  return `the disk is full: ${error.message}${where}; free some space, then run the same command again: it goes on where it stopped`;
}

/** Run a command; never throws; returns the exit code once what it printed is written (the script exits then). */
export async function main(command: CommandName, args: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number;
  try {
    code = await dispatch(command, args, io);
  } catch (error) {
    if (error instanceof DiagnosticsError || error instanceof WorkMilestoneError) {
      io.err(error.message);
    } else if (isCode(error, 'ENOSPC', 'EDQUOT')) {
      io.err(diskFull(error as NodeJS.ErrnoException));
    } else {
      io.err(`internal error: ${(error as Error).message}`);
      if (io.env.WM_DEBUG) io.err((error as Error).stack ?? '');
    }
    code = exitCodeOf(error);
  }
  await flushOutput();
  return code;
}

/**
 * `work-milestone <command> [args…]` (bin/work-milestone.mjs): the command's script in this process, its hints in the
 * bin's words; `--help`, `--version` and an unknown command (with the closest one) answered here.
 */
export async function binMain(argv: readonly string[], io: Io = processIo('bin')): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(BIN_HELP);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    io.out(packageVersion());
    return 0;
  }
  if (!COMMAND_NAMES.includes(command as CommandName)) {
    io.err(
      `work-milestone: unknown command "${command}"${didYouMean(command, COMMAND_NAMES) || `; commands are: ${COMMAND_NAMES.join(', ')}`}`,
    );
    await flushOutput();
    return 2;
  }
  return main(command as CommandName, args, io);
}
