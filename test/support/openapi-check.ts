/**
 * Checks requests and responses of the loopback GitHub server against GitHub's published OpenAPI description
 * (`@octokit/openapi`, api.github.com) with the project's Ajv: the route must be an operation GitHub documents, its
 * query and body must match, and what the server answers must match the documented response.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { ROOT } from './fixture.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

/** A documented operation a request matched. */
export interface Operation {
  /** The template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}`. */
  readonly template: string;
  readonly method: string;
  readonly operationId: string;
  readonly params: Readonly<Record<string, string>>;
}

/** The checker: `match` finds the operation, `checkRequest` / `checkResponse` return problems (empty when valid). */
export interface OpenApiCheck {
  match(method: string, pathname: string): Operation | undefined;
  checkRequest(op: Operation, query: URLSearchParams, body: unknown): string[];
  checkResponse(op: Operation, status: number, body: unknown): string[];
  /**
   * The smallest valid instance of a component schema (`pull-request`, `check-run`): required properties only, the
   * first enum value, null where null is allowed; a server overlays the fields that matter.
   */
  exampleOf(schema: string): Record<string, unknown>;
}

const SPEC_FILE = path.join(ROOT, 'node_modules', '@octokit', 'openapi', 'generated', 'api.github.com.json');

let shared: OpenApiCheck | undefined;

/** The checker, loaded once per process (the description is 13 MB; validators are compiled when first used). */
export function openApiCheck(): OpenApiCheck {
  return (shared ??= loadCheck());
}

function loadCheck(): OpenApiCheck {
  const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as JsonMap;
  const components = spec.components as JsonMap;
  const paths = spec.paths as Record<string, JsonMap>;
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'gh', components: { schemas: toJsonSchema(components.schemas) } });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: Json): ValidateFunction => {
    let v = compiled.get(key);
    if (!v) compiled.set(key, (v = ajv.compile(toJsonSchema(schema) as object)));
    return v;
  };
  const resolve = (node: Json | undefined): JsonMap | undefined => {
    const ref = (node as JsonMap | undefined)?.$ref;
    if (typeof ref !== 'string') return node as JsonMap | undefined;
    const [, section, name] = /^#\/components\/([^/]+)\/(.+)$/.exec(ref) ?? [];
    return resolve(((components[section ?? ''] as JsonMap | undefined)?.[name ?? ''] ?? undefined) as Json);
  };
  // Templates with fewer parameters first: `/issues/comments` before `/issues/{issue_number}`.
  const routes = Object.keys(paths)
    .map((template) => {
      const names: string[] = [];
      const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, n: string) => {
        names.push(n);
        return '([^/]+)';
      });
      return { template, names, regex: new RegExp(`^${source}$`) };
    })
    .sort((a, b) => a.names.length - b.names.length);
  const errorsOf = (v: ValidateFunction): string =>
    (v.errors ?? [])
      .slice(0, 5)
      .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}`)
      .join('; ');
  const operationOf = (op: Operation): JsonMap => paths[op.template]?.[op.method] as JsonMap;

  return {
    match(method, pathname) {
      const m = method.toLowerCase();
      for (const route of routes) {
        const found = route.regex.exec(pathname);
        if (!found || !paths[route.template]?.[m]) continue;
        const params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(found[i + 1] ?? '')]));
        const operationId = String((paths[route.template]?.[m] as JsonMap).operationId);
        return { template: route.template, method: m, operationId, params };
      }
      return undefined;
    },

    checkRequest(op, query, body) {
      const operation = operationOf(op);
      const problems: string[] = [];
      const declared = ((operation.parameters as Json[] | undefined) ?? []).map(resolve);
      for (const [name, value] of query) {
        const param = declared.find((p) => p?.in === 'query' && p.name === name);
        if (!param) {
          problems.push(`${op.operationId}: query parameter ${name} is not documented`);
          continue;
        }
        const schema = param.schema as JsonMap;
        const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
        const v = validator(`${op.operationId}?${name}`, schema);
        if (!v(typed)) problems.push(`${op.operationId}: query ${name}=${value}: ${errorsOf(v)}`);
      }
      const requestBody = resolve(operation.requestBody as Json | undefined);
      const schema = ((requestBody?.content as JsonMap | undefined)?.['application/json'] as JsonMap | undefined)
        ?.schema;
      if (schema === undefined) {
        if (body !== null && body !== undefined) problems.push(`${op.operationId}: takes no body`);
      } else if (body === null || body === undefined) {
        if (requestBody?.required === true) problems.push(`${op.operationId}: body required`);
      } else {
        const v = validator(`${op.operationId}:request`, schema);
        if (!v(body)) problems.push(`${op.operationId}: request body: ${errorsOf(v)}`);
      }
      return problems;
    },

    exampleOf(name) {
      return exampleValue(components, { $ref: `#/components/schemas/${name}` }, 0) as Record<string, unknown>;
    },

    checkResponse(op, status, body) {
      const responses = operationOf(op).responses as JsonMap;
      const response = resolve(responses[String(status)]);
      if (!response) return status >= 400 ? [] : [`${op.operationId}: status ${status} is not documented`];
      const schema = ((response.content as JsonMap | undefined)?.['application/json'] as JsonMap | undefined)?.schema;
      if (schema === undefined)
        return body === null || body === undefined ? [] : [`${op.operationId}: ${status} has no body`];
      const v = validator(`${op.operationId}:${status}`, schema);
      return v(body) ? [] : [`${op.operationId}: response ${status}: ${errorsOf(v)}`];
    },
  };
}

/**
 * An OpenAPI 3.0 schema as JSON Schema for Ajv: `nullable: true` becomes a `null` type (or an `anyOf` with null),
 * and local `$ref`s point into the `gh` schema that holds the components.
 */
function toJsonSchema(node: Json | undefined): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node ?? null;
  const out: JsonMap = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'nullable' && typeof value === 'boolean') continue;
    out[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `gh${value}` : toJsonSchema(value);
  }
  if (node.nullable !== true) return out;
  if (typeof out.type === 'string')
    return { ...out, type: [out.type, 'null'], ...(Array.isArray(out.enum) ? { enum: [...out.enum, null] } : {}) };
  return { anyOf: [out, { type: 'null' }] };
}

/** A minimal valid value of an OpenAPI 3.0 schema (required properties only). */
function exampleValue(components: JsonMap, node: Json | undefined, depth: number): Json {
  let schema = node as JsonMap | undefined;
  while (typeof schema?.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    schema = (components.schemas as JsonMap)[name] as JsonMap | undefined;
  }
  if (!schema || depth > 12) return null;
  if (schema.nullable === true) return null;
  if (Array.isArray(schema.allOf))
    return Object.assign({}, ...schema.allOf.map((s) => exampleValue(components, s, depth + 1) as JsonMap));
  const choice = (schema.oneOf ?? schema.anyOf) as Json[] | undefined;
  if (Array.isArray(choice)) return exampleValue(components, choice[0], depth + 1);
  if (Array.isArray(schema.enum)) return schema.enum[0] ?? null;
  switch (schema.type) {
    case 'string':
      return schema.format === 'date-time'
        ? '2026-01-01T00:00:00Z'
        : schema.format === 'uri'
          ? 'https://example.com'
          : 'x';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    default: {
      const properties = (schema.properties ?? {}) as JsonMap;
      const required = (schema.required ?? []) as string[];
      return Object.fromEntries(required.map((k) => [k, exampleValue(components, properties[k], depth + 1)]));
    }
  }
}
