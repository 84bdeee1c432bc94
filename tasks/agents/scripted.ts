/** The `scripted` adapter: runs scripted-agent.ts as a real child process. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { plainOutcome, type AgentAdapter } from './types.ts';
import { packagePath, RUNS_BUNDLED } from '../lib/package-root.ts';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const PROGRAM = packagePath('tasks', 'agents', 'scripted-agent.ts');

/** scripted adapter. */
export const scriptedAgent: AgentAdapter = {
  kind: 'scripted',
  launch(inv) {
    const spec = { role: inv.role, issue: inv.issue, title: inv.title, branch: inv.branch, edits: inv.edits };
    // A file, not the environment: the plan's edits can be bigger than one environment value may be (128 KiB).
    const file = `${inv.promptFile.replace(/\.md$/, '')}.scripted.json`;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(spec));
    // From the bundle: the bundle's copy of the program, started without tsx (as fast as the bundle itself).
    const args = RUNS_BUNDLED ? [packagePath('dist', 'scripted-agent.js')] : ['--import', TSX, PROGRAM];
    return { file: process.execPath, args, env: { WM_SCRIPTED_FILE: file } };
  },
  parse: plainOutcome,
};
