/**
 * The GraphQL endpoint of the loopback GitHub server: every request is parsed and validated against GitHub's
 * published GraphQL schema (`@octokit/graphql-schema`, with the `graphql` package's `validate`) and executed against
 * that schema with the server's resolvers, so what it answers is data of the schema's shape (graphql-js enforces
 * types, enums and non-null fields of what was asked). What failed is returned as problems for the test to assert.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { GraphQLError } from 'graphql';
import {
  buildClientSchema,
  execute,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type IntrospectionQuery,
  type OperationDefinitionNode,
} from 'graphql';
import { ROOT } from './fixture.ts';

const SCHEMA_FILE = path.join(ROOT, 'node_modules', '@octokit', 'graphql-schema', 'schema.json');

let shared: GraphQLSchema | undefined;

/** GitHub's GraphQL schema, built once per process (about a second). */
function githubSchema(): GraphQLSchema {
  return (shared ??= buildClientSchema(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as IntrospectionQuery));
}

/** A refusal a resolver means (GitHub's error for a mutation it will not do): not a problem of the request. */
export class GithubRefusal extends Error {}

/** What one GraphQL request got. */
export interface GraphqlOutcome {
  readonly body: unknown;
  /** `query` or `mutation`, and the root fields asked for (`enqueuePullRequest`, `repository`). */
  readonly operation: string;
  readonly fields: readonly string[];
  readonly problems: readonly string[];
}

/** Validate and execute the request `body` (`{query, variables}`) with `root` as the root value. */
export async function runGraphql(body: unknown, root: object): Promise<GraphqlOutcome> {
  const request = body as { query?: unknown; variables?: unknown } | null;
  if (typeof request?.query !== 'string')
    return {
      body: { message: 'A query attribute must be specified' },
      operation: '',
      fields: [],
      problems: ['graphql: no query'],
    };
  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    return answerErrors([error as GraphQLError]);
  }
  const invalid = validate(githubSchema(), document);
  if (invalid.length > 0) return answerErrors(invalid);
  const definition = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const fields = (definition?.selectionSet.selections ?? []).flatMap((s) =>
    s.kind === Kind.FIELD ? [s.name.value] : [],
  );
  const result = await execute({
    schema: githubSchema(),
    document,
    rootValue: root,
    variableValues: (request.variables ?? {}) as Record<string, unknown>,
  });
  const problems = (result.errors ?? [])
    .filter((e) => !(e.originalError instanceof GithubRefusal))
    .map((e) => `graphql: ${e.message} at ${e.path?.join('.') ?? '(request)'}`);
  const errors = result.errors?.map((e) => ({ type: 'UNPROCESSABLE', path: e.path, message: e.message }));
  return {
    body: { data: result.data ?? null, ...(errors ? { errors } : {}) },
    operation: definition?.operation ?? '',
    fields,
    problems,
  };
}

function answerErrors(errors: readonly GraphQLError[]): GraphqlOutcome {
  return {
    body: { errors: errors.map((e) => ({ message: e.message, locations: e.locations })) },
    operation: '',
    fields: [],
    problems: errors.map((e) => `graphql: ${e.message}`),
  };
}
