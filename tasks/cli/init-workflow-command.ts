/**
 * `work-milestone init-workflow`: write the workflow the `github-actions` executor dispatches
 * (`.github/workflows/work-milestone-agent.yml`, docs/executors.md) into the repository. An existing file with other
 * content is left alone (bad input): the user may have changed it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_WORKFLOW, WORKFLOW_FILE, workflowText } from '../executors/github-actions/workflow.ts';
import { BadInputError } from '../lib/errors.ts';
import { findRepoRoot } from '../lib/git.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';
import { packageVersion } from '../lib/package-root.ts';

/** Write the workflow; exit 0 when it is there (written now or already the same). */
export async function initWorkflowCommand(flags: Flags, io: Io): Promise<number> {
  const repo = await findRepoRoot(path.resolve(io.cwd, flags.repo ?? '.'));
  const file = path.join(repo, '.github', 'workflows', WORKFLOW_FILE);
  const text = workflowText({ ...DEFAULT_WORKFLOW, version: packageVersion() });
  if (existsSync(file)) {
    if (readFileSync(file, 'utf8') === text) {
      io.out(`${path.relative(repo, file)} is up to date`);
      return 0;
    }
    throw new BadInputError(
      `${path.relative(repo, file)} exists with other content; move it away to write the current one (then carry ` +
        'your changes over)',
    );
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  io.out(`wrote ${path.relative(repo, file)}: commit and push it to the branch executor.ref names (main)`);
  return 0;
}
