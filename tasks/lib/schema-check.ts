/**
 * The one place JSON schemas are loaded (once each, on first use: the validator generated ahead of time when it is
 * up to date, else compiled by ajv) and their errors are turned into the project's one-sentence diagnostics, with
 * file:line:col through the YAML CST where the data came from YAML.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { didYouMean } from './did-you-mean.ts';
import { byteSizeProblem } from './byte-size.ts';
import { durationProblem } from './duration.ts';
import { titleProblem } from './plan/title.ts';
import { AJV_OPTIONS, loadAjv, schemaHash, schemaUrl, standaloneUrl } from './schema-standalone.ts';
import { keyPositionOf, positionOf } from './yaml-positions.ts';

const require = createRequire(import.meta.url);

/** The schema files under `schema/`. */
export type SchemaName = 'dispatch-plan.schema.json' | 'backlog-item.schema.json' | 'state.schema.json';

/** A schema and its validator: the generated one when it was made from this schema text, else compiled now. */
export interface Compiled {
  readonly validate: ValidateFunction;
  readonly schema: object;
}
const compiledSchemas = new Map<string, Compiled>();
/** One Ajv per process, made only when a schema has no up-to-date generated validator: a schema with an `$id` may be
 * added to an Ajv only once. */
let ajv: Ajv | undefined;

/** The generated validator of `name` if it was made from exactly `text`, else undefined. */
function standalone(name: string, text: string): ValidateFunction | undefined {
  let generated: ValidateFunction & { schemaSha256?: string };
  try {
    generated = require(fileURLToPath(standaloneUrl(name))) as typeof generated;
  } catch {
    // A missing or broken generated file costs the compile time, never a wrong verdict.
    return undefined;
  }
  return generated.schemaSha256 === schemaHash(text) ? generated : undefined;
}

/** The validator of `schema/<name>` whose text is `text`: the generated one when made from `text`, else compiled. */
export function validatorOf(name: string, text: string): Compiled {
  const schema = JSON.parse(text) as object;
  return { validate: standalone(name, text) ?? (ajv ??= new (loadAjv())(AJV_OPTIONS)).compile(schema), schema };
}

function compiled(name: string): Compiled {
  let entry = compiledSchemas.get(name);
  if (!entry) {
    entry = validatorOf(name, readFileSync(schemaUrl(name), 'utf8'));
    compiledSchemas.set(name, entry);
  }
  return entry;
}

/**
 * The validator of `schema/<name>`, loaded (or compiled) on its first call (a command that never validates a plan
 * never pays for the plan schema); `errors` and `schema` read through to the loaded function.
 */
export function loadSchema<T = unknown>(name: SchemaName): ValidateFunction<T> {
  const validate = ((data: unknown) => compiled(name).validate(data)) as ValidateFunction<T>;
  Object.defineProperties(validate, {
    errors: { get: () => compiled(name).validate.errors, enumerable: true },
    schema: { get: () => compiled(name).schema, enumerable: true },
  });
  return validate;
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

/** A schema node as far as "did you mean" reads it. */
interface SchemaNode {
  readonly $ref?: string;
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
  readonly oneOf?: readonly SchemaNode[];
  readonly anyOf?: readonly SchemaNode[];
}

/** `node` with its local `$ref` followed, or the branch of a union that has `want` (`properties` or `items`). */
function resolveNode(
  root: unknown,
  node: SchemaNode | undefined,
  want: 'properties' | 'items',
): SchemaNode | undefined {
  for (let hops = 0; node && hops < 10; hops++) {
    if (node.$ref?.startsWith('#')) node = at(root, node.$ref) as SchemaNode | undefined;
    else if (node[want] === undefined && (node.oneOf ?? node.anyOf))
      node = (node.oneOf ?? node.anyOf ?? []).map((b) => resolveNode(root, b, want)).find((b) => b?.[want]);
    else return node;
  }
  return node;
}

/** The object schema that describes the value at `segs` (object keys, array indexes) of the data, or undefined. */
function objectSchemaAt(root: unknown, segs: ReadonlyArray<string | number>): SchemaNode | undefined {
  let node: SchemaNode | undefined = root as SchemaNode;
  for (const seg of segs) {
    node = resolveNode(root, node, typeof seg === 'number' ? 'items' : 'properties');
    node = typeof seg === 'number' ? node?.items : node?.properties?.[seg];
  }
  return resolveNode(root, node, 'properties');
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

/** One sentence for one ajv error: `<path> must be …`, `<what>` standing for the whole document. */
function describe(
  e: ErrorObject,
  what: string,
  errors: readonly ErrorObject[],
  data: unknown,
  schema: unknown,
): string {
  const p = displayPath(e.instancePath) || what;
  const params = e.params as Record<string, unknown>;
  // Durations, sizes, titles and issue numbers say what they accept rather than which keyword failed.
  if (e.schemaPath.startsWith('#/definitions/duration/'))
    return `${p} ${durationProblem(at(data, e.instancePath)) ?? 'must be a duration'}`;
  if (e.schemaPath.startsWith('#/definitions/byteSize/'))
    return `${p} ${byteSizeProblem(at(data, e.instancePath)) ?? 'must be a size'}`;
  if (/\/title\/(maxLength|pattern)$/.test(e.schemaPath)) {
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
    case 'additionalProperties': {
      // The keys the object allows, for "did you mean" (standalone validators give schema paths relative to a $ref).
      const key = String(params.additionalProperty);
      const known = Object.keys(objectSchemaAt(schema, segments(e.instancePath))?.properties ?? {});
      return `unknown key "${key}" in ${p}${didYouMean(key, known)}`;
    }
    case 'enum':
      return `${p} must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'minItems':
    case 'minLength':
      return `${p} must not be empty`;
    default:
      return `${p} ${e.message ?? 'is invalid'}`;
  }
}

/** The errors worth a sentence: an `if` only says "must match then" (the `then` error says what is wrong), and a
 * value of a union type (string or object) fails the other branch's keywords too, where the type error is enough. */
function meaningful(errors: readonly ErrorObject[]): ErrorObject[] {
  return errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      (e.keyword === 'type' || !errors.some((o) => o.keyword === 'type' && o.instancePath === e.instancePath)),
  );
}

/**
 * Validate parsed YAML and return one diagnostic per meaningful ajv error, at the line:col of the offending value (of
 * the key, for an unknown key); `what` names the whole document in messages (`plan`, `front matter`).
 */
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
  for (const e of meaningful(errors)) {
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

/**
 * Validate data that has no YAML behind it (a JSON file): undefined when valid, else the first problem as one
 * sentence (`items[42].status must be one of: pending, …`), `what` naming the whole document.
 */
export function schemaProblem(validate: ValidateFunction, data: unknown, what: string): string | undefined {
  if (validate(data)) return undefined;
  const errors = validate.errors ?? [];
  const first = meaningful(errors)[0] ?? errors[0];
  return first ? describe(first, what, errors, data, validate.schema) : `${what} is invalid`;
}
