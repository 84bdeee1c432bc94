#!/usr/bin/env zx
// Thin entry point: everything is in tasks/cli; only this file exits.
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('completion', scriptArgs(process.argv, 'completion')));
