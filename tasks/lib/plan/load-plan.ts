/**
 * Read a dispatch plan: YAML → schema, value and integrity checks (all collected) → one normalised, read-only Plan
 * (docs/plan-format.md).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { DiagnosticsError, type Diagnostic } from '../diagnostics.ts';
import { BadInputError } from '../errors.ts';
import { checkIntegrity } from './integrity.ts';
import { normalisePlan } from './normalise.ts';
import { existingPlansText } from './plan-files.ts';
import type { Plan } from './types.ts';
import { checkValues } from './values.ts';
import {
  checkWorktreeRoot,
  inspectWorktreeRoot,
  worktreeRootSetting,
  type WorktreeRootFacts,
} from './worktree-root.ts';
import { loadPlanYaml, type PlanYaml } from './parse-yaml.ts';
import { checkSchema, loadSchema } from '../schema-check.ts';
import { readRegularFile } from '../regular-file.ts';
import { gitOk } from '../git.ts';

export { BUILTIN_SETTINGS } from './normalise.ts';

const validatePlan = loadSchema('dispatch-plan.schema.json');

/** Default plan path for milestone N, relative to the repository. */
export function defaultPlanPath(milestone: string): string {
  return `plan/milestone-${milestone}-dispatch.yaml`;
}

/** Read and parse the plan file of the repository at `repo` (its top); a missing file is bad input. */
export async function readPlan(repo: string, file: string): Promise<Plan> {
  const abs = path.resolve(repo, file);
  let source: string;
  try {
    source = await readRegularFile(abs);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOTREG')
      throw new BadInputError(`${path.relative(repo, abs) || file}: the plan is not a regular file`, { cause });
    const shown = path.relative(repo, abs) || file;
    // Committed but not in the working tree: a sparse checkout that leaves its folder out, or a deletion.
    if (!shown.startsWith('..') && (await gitOk(repo, ['cat-file', '-e', `HEAD:${shown.split(path.sep).join('/')}`])))
      throw new BadInputError(
        `${shown}: committed, but not in the working tree (a sparse checkout that leaves ${path.dirname(shown)}/ out: ` +
          `git sparse-checkout add ${path.dirname(shown)}; or deleted: git restore ${shown})`,
        { cause },
      );
    throw new BadInputError(`${shown}: no such plan file${existingPlansText(repo)}`, { cause });
  }
  return parsePlanIn(repo, source, path.relative(repo, abs) || file);
}

/** Parse plan text (pure); throws DiagnosticsError with every problem found that needs no repository. */
export function parsePlan(source: string, file: string): Plan {
  return finish(checkText(source, file), undefined);
}

/**
 * Parse plan text for the repository at `repo` (its top; reads only): every check of parsePlan, and those that need
 * the repository — `defaults.worktree-root` may not be a tracked path nor lead into .git through a symlink.
 */
export async function parsePlanIn(repo: string, source: string, file: string): Promise<Plan> {
  const checked = checkText(source, file);
  const root = worktreeRootSetting(checked.yaml.data);
  return finish(checked, root && (await inspectWorktreeRoot(repo, root.value)));
}

interface Checked {
  readonly yaml: PlanYaml;
  readonly source: string;
  readonly file: string;
  readonly problems: readonly Diagnostic[];
}

/** YAML, schema, value and integrity checks; a YAML-level problem throws at once (there is nothing to check then). */
function checkText(source: string, file: string): Checked {
  const yaml = loadPlanYaml(source, file);
  const { doc, lc, data } = yaml;
  // Every check runs, even when the schema failed: each skips what has the wrong shape.
  const problems = [
    ...checkSchema(validatePlan, data, doc, lc, file),
    ...checkValues(data, doc, lc, file),
    ...checkIntegrity(data, doc, lc, file),
  ];
  return { yaml, source, file, problems };
}

/** The Plan, or DiagnosticsError with every problem (the worktree root's too, with what the repository says of it). */
function finish({ yaml, source, file, problems }: Checked, root: WorktreeRootFacts | undefined): Plan {
  const all = unique([...problems, ...checkWorktreeRoot(yaml.data, yaml.doc, yaml.lc, file, root)]);
  if (all.length > 0) throw new DiagnosticsError(all);
  return normalisePlan(yaml.data, file, createHash('sha256').update(source).digest('hex'));
}

/** One diagnostic per position and message (a duration the schema and the value check both reject, say). */
function unique(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.line}:${d.col}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
