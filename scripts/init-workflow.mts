#!/usr/bin/env zx
// Thin entry point: write the workflow the github-actions executor dispatches.
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('init-workflow', scriptArgs(process.argv, 'init-workflow')));
