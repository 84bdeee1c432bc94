#!/usr/bin/env zx
// Thin entry point: a whole milestone on a generated sample repo, offline.
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('demo', scriptArgs(process.argv, 'demo')));
