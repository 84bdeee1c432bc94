#!/usr/bin/env zx
// Thin entry point: the job entry command of a remote agent (docs/executors.md).
import { main, scriptArgs } from '../tasks/cli/main.ts';

process.exit(await main('agent-job', scriptArgs(process.argv, 'agent-job')));
