/** JSON-schema validation (ajv) with errors mapped to file:line:col through the YAML CST. */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { durationProblem } from './duration.ts';
import { titleProblem } from './plan/title.ts';
import { keyPositionOf, positionOf } from './yaml-positions.ts';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

/** Compile a schema from `schema/<name>`. */
export function loadSchema(name: string): ValidateFunction {
  const url = new URL(`../../schema/${name}`, import.meta.url);
  return ajv.compile(JSON.parse(readFileSync(url, 'utf8')) as object);
}

/** `waves[0].items[1].issue` for `/waves/0/items/1/issue`. */
export function displayPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function segments(instancePath: string): Array<string | number> {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/** The node at a JSON pointer (`/a/0/b`, or `#/a/0/b` in a schema), or undefined. */
function at(root: unknown, pointer: string): unknown {
  return segments(pointer.replace(/^#/, '')).reduce<unknown>(
    (node, seg) =>
      node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[seg] : undefined,
    root,
  );
}

/** ` (required when kind is github)` for a failed `if: {properties: {kind: {const: github}}}`, else ''. */
function conditionOf(ifError: ErrorObject | undefined, schema: unknown): string {
  const cond =
    ifError && (at(schema, ifError.schemaPath) as { properties?: Record<string, { const?: unknown }> } | undefined);
  const parts = Object.entries(cond?.properties ?? {})
    .filter(([, s]) => s.const !== undefined)
    .map(([k, s]) => `${k} is ${String(s.const)}`);
  return parts.length > 0 ? ` (required when ${parts.join(' and ')})` : '';
}

function describe(
  e: ErrorObject,
  what: string,
  errors: readonly ErrorObject[],
  data: unknown,
  schema: unknown,
): string {
  const p = displayPath(e.instancePath) || what;
  const params = e.params as Record<string, unknown>;
  // Durations, titles and issue numbers say what they accept rather than which keyword failed.
  if (e.schemaPath.startsWith('#/definitions/duration/'))
    return `${p} ${durationProblem(at(data, e.instancePath)) ?? 'must be a duration'}`;
  if (e.schemaPath === '#/definitions/title/maxLength' || e.schemaPath === '#/definitions/title/pattern') {
    const value = at(data, e.instancePath);
    return `${p} ${(typeof value === 'string' && titleProblem(value)) || 'is not a valid title'}`;
  }
  if (e.schemaPath === '#/definitions/issue/maximum')
    return `${p} is too large: issue numbers must be at most ${String(params.limit)}`;
  switch (e.keyword) {
    case 'type':
      return `${p} must be ${String(params.type).split(',').join(' or ')}`;
    case 'required': {
      const ifError = errors.find(
        (o) => o.keyword === 'if' && e.schemaPath.startsWith(o.schemaPath.replace(/if$/, 'then/')),
      );
      return `${p} is missing required key "${String(params.missingProperty)}"${conditionOf(ifError, schema)}`;
    }
    case 'additionalProperties':
      return `unknown key "${String(params.additionalProperty)}" in ${p}`;
    case 'enum':
      return `${p} must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'minItems':
    case 'minLength':
      return `${p} must not be empty`;
    default:
      return `${p} ${e.message ?? 'is invalid'}`;
  }
}

/** Validate `data` and return one diagnostic per meaningful ajv error. */
export function checkSchema(
  validate: ValidateFunction,
  data: unknown,
  doc: Document,
  lc: LineCounter,
  file: string,
  what = 'plan',
): Diagnostic[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of errors) {
    // An `if` failure only says "must match then"; the `then` keyword's own error says what is wrong.
    if (e.keyword === 'if') continue;
    // A value of a union type (string or object) fails the other branch's keywords too; keep the type error only.
    if (e.keyword !== 'type' && errors.some((o) => o.keyword === 'type' && o.instancePath === e.instancePath)) continue;
    const params = e.params as Record<string, unknown>;
    const pos =
      e.keyword === 'additionalProperties'
        ? keyPositionOf(doc, lc, segments(e.instancePath), String(params.additionalProperty))
        : positionOf(doc, lc, segments(e.instancePath));
    const message = describe(e, what, errors, data, validate.schema);
    const key = `${pos.line}:${pos.col}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ severity: 'error', message, file, line: pos.line, col: pos.col });
  }
  return out;
}
