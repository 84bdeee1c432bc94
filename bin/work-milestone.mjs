#!/usr/bin/env node
// `work-milestone <command> [args…]` (README): the command's script, run in this process through tsx, its hints in
// the bin's words (`npx work-milestone …`).
import { readFileSync } from 'node:fs';
import { register } from 'tsx/esm/api';

const args = process.argv.slice(2);
// Answered before TypeScript is loaded: `--version` costs what `node` costs.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}
// Node 20 cannot load TypeScript by itself: tsx's ESM hooks, registered before the CLI is imported.
register();
const { binMain } = await import('../tasks/cli/main.ts');
process.exit(await binMain(args));
