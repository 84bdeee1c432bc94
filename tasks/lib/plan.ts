/** Read a dispatch plan: YAML → schema, value and integrity checks (all collected) → one normalised, read-only Plan (DESIGN §2). */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DiagnosticsError, type Diagnostic } from './diagnostics.ts';
import { BadInputError } from './errors.ts';
import { checkIntegrity } from './plan-integrity.ts';
import { normalisePlan } from './plan-normalise.ts';
import type { Plan } from './plan-types.ts';
import { checkValues } from './plan-values.ts';
import { loadPlanYaml } from './plan-yaml.ts';
import { checkSchema, loadSchema } from './schema-check.ts';

export { BUILTIN_SETTINGS } from './plan-normalise.ts';

const validatePlan = loadSchema('dispatch-plan.schema.json');

/** Default plan path for milestone N, relative to the repository. */
export function defaultPlanPath(milestone: string): string {
  return `plan/milestone-${milestone}-dispatch.yaml`;
}

/** Read and parse the plan file; a missing file is bad input. */
export async function readPlan(repo: string, file: string): Promise<Plan> {
  const abs = path.resolve(repo, file);
  let source: string;
  try {
    source = await readFile(abs, 'utf8');
  } catch (cause) {
    throw new BadInputError(`${path.relative(repo, abs) || file}: no such plan file`, { cause });
  }
  return parsePlan(source, path.relative(repo, abs) || file);
}

/** Parse plan text (pure); throws DiagnosticsError with every problem found. */
export function parsePlan(source: string, file: string): Plan {
  const { doc, lc, data } = loadPlanYaml(source, file);
  // Every check runs, even when the schema failed: each skips what has the wrong shape.
  const problems = unique([
    ...checkSchema(validatePlan, data, doc, lc, file),
    ...checkValues(data, doc, lc, file),
    ...checkIntegrity(data, doc, lc, file),
  ]);
  if (problems.length > 0) throw new DiagnosticsError(problems);
  return normalisePlan(data, file, createHash('sha256').update(source).digest('hex'));
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
