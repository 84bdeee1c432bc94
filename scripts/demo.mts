#!/usr/bin/env zx
// Thin entry point (DESIGN §1): a whole milestone on a generated sample repo, offline.
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('demo', scriptArgs(process.argv, 'demo')));
