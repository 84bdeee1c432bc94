#!/usr/bin/env zx
// Thin entry point: the plan's quality gates, run in this checkout.
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('gates', scriptArgs(process.argv, 'gates')));
