#!/usr/bin/env node
// `work-milestone <command> [args…]` (README): the command's script, run in this process, its hints in the bin's
// words (`npx work-milestone …`). The bundle in dist/ when it is fresh; else the TypeScript sources through tsx.
import { readFileSync } from 'node:fs';
import { loadCli } from './bundle.mjs';

const args = process.argv.slice(2);
// Answered before the CLI is loaded: `--version` costs what `node` costs.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}
const cli = await loadCli();
process.exit(await cli.binMain(args));
