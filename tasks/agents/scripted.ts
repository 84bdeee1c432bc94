/** The `scripted` adapter: runs scripted-agent.ts as a real child process. */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { plainOutcome, type AgentAdapter } from './types.ts';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const PROGRAM = fileURLToPath(new URL('./scripted-agent.ts', import.meta.url));

/** scripted adapter. */
export const scriptedAgent: AgentAdapter = {
  kind: 'scripted',
  launch(inv) {
    const spec = { role: inv.role, issue: inv.issue, title: inv.title, branch: inv.branch, edits: inv.edits };
    return { file: process.execPath, args: ['--import', TSX, PROGRAM], env: { WM_SCRIPTED: JSON.stringify(spec) } };
  },
  parse: ({ stdout, stderr, exitCode }) => plainOutcome(stdout, stderr, exitCode),
};
