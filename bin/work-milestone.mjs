#!/usr/bin/env node
// `work-milestone <command> [args…]` (README): the command's script, run in this process through tsx, its hints in
// the bin's words (`npx work-milestone …`).
import { register } from 'tsx/esm/api';

// Node 20 cannot load TypeScript by itself: tsx's ESM hooks, registered before the CLI is imported.
register();
const { binMain } = await import('../tasks/cli/main.ts');
process.exit(await binMain(process.argv.slice(2)));
