#!/usr/bin/env node
// `work-milestone <command> [args…]` (README): runs scripts/<command>.mts in this process, through tsx.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const COMMANDS = ['run', 'step', 'plan', 'status', 'gates', 'demo', 'agent-job', 'init-workflow'];

const USAGE = `Usage: work-milestone <command> [args…]

Commands:
  run <N>             run milestone N: every step not yet done
  step <step> <N>     run one step, e.g. \`work-milestone step merge 7 --wave 2\`
  plan <N>            validate the plan and print the compiled graph; changes nothing
  status <N>          what is done, running, failed; costs and times
  gates [<N>]         run the quality gates locally (pre-commit style)
  demo                a full run on a generated sample repository, offline
  init-workflow       write the workflow the github-actions executor dispatches
  agent-job <dir>     the job entry command of a remote agent (run by that workflow)

\`work-milestone <command> --help\` shows the flags of a command.
Exit codes: 0 done, 1 a step failed, 2 bad input, 3 needs attention, 130 interrupted.`;

const [command, ...args] = process.argv.slice(2);

if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (command === '--version' || command === '-v') {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
  process.exit(0);
}
if (!COMMANDS.includes(command)) {
  process.stderr.write(`work-milestone: unknown command "${command}"\n\n${USAGE}\n`);
  process.exit(2);
}

const script = fileURLToPath(new URL(`../scripts/${command}.mts`, import.meta.url));
// Node 20 cannot load TypeScript by itself: tsx's ESM hooks, registered before the script is imported.
register();
// The script reads its arguments after its own path, as under `node --import tsx scripts/<command>.mts …`.
process.argv = [process.argv[0], script, ...args];
await import(pathToFileURL(script).href);
