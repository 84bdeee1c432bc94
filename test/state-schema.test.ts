/**
 * The State type (tasks/lib/state-types.ts) and schema/state.schema.json agree: the TypeScript compiler reads the type,
 * and every object, property, optionality, nullability, primitive and literal set in it is compared with the schema.
 * The schema may say more than a type can (patterns, minimums) and may leave a few parts unchecked on purpose (listed
 * below); anything else that differs fails here, naming the path.
 */
import path from 'node:path';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import schema from '../schema/state.schema.json' with { type: 'json' };
import { ROOT } from './support/fixture.ts';

/** Parts the schema checks only as `object` or `array`: results of agents and gates, read by code that copes. */
const OPAQUE = ['gates.results', 'items.*.result'];

interface SchemaNode {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | SchemaNode;
  readonly items?: SchemaNode;
}

interface Walk {
  readonly checker: ts.TypeChecker;
  readonly problems: string[];
  readonly opaque: string[];
}

function stateType(): { checker: ts.TypeChecker; type: ts.Type } {
  const file = path.join(ROOT, 'tasks', 'lib', 'state-types.ts');
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  const symbol = checker
    .getExportsOfModule(checker.getSymbolAtLocation(source) as ts.Symbol)
    .find((s) => s.name === 'State');
  if (!symbol) throw new Error('state-types.ts exports no State');
  return { checker, type: checker.getDeclaredTypeOfSymbol(symbol) };
}

/** The JSON types a schema node accepts (`integer` counts as `number`), from `type`, `enum` or `const`. */
function schemaKinds(node: SchemaNode): Set<string> | undefined {
  const kindOf = (v: unknown) => (v === null ? 'null' : typeof v);
  if (node.enum) return new Set(node.enum.map(kindOf));
  if ('const' in node) return new Set([kindOf(node.const)]);
  if (node.type === undefined) return undefined;
  const types = typeof node.type === 'string' ? [node.type] : node.type;
  return new Set(types.map((t) => (t === 'integer' ? 'number' : t)));
}

function literalValues(node: SchemaNode): unknown[] | undefined {
  return node.enum ? [...node.enum] : 'const' in node ? [node.const] : undefined;
}

/** What a TypeScript type allows, in JSON-schema terms. */
interface TypeShape {
  readonly kinds: Set<string>;
  /** The literal values, when every non-null part is a string or number literal. */
  readonly literals: unknown[] | undefined;
  readonly objects: ts.Type[];
  readonly arrays: ts.Type[];
}

/** The shape of the union of `types`. */
function shapeOf(w: Walk, types: readonly ts.Type[]): TypeShape {
  const parts = types.flatMap((t) => (t.isUnion() ? t.types : [t]));
  const kinds = new Set<string>();
  const literals: unknown[] = [];
  let allLiteral = true;
  const objects: ts.Type[] = [];
  const arrays: ts.Type[] = [];
  for (const part of parts) {
    const f = part.flags;
    if (f & ts.TypeFlags.Undefined) continue;
    if (f & ts.TypeFlags.Null) kinds.add('null');
    else if (part.isStringLiteral() || part.isNumberLiteral()) {
      kinds.add(part.isStringLiteral() ? 'string' : 'number');
      // A literal two members of a union share (the handle kinds' `agent`) counts once.
      if (!literals.includes(part.value)) literals.push(part.value);
    } else {
      allLiteral = false;
      if (f & ts.TypeFlags.BooleanLiteral) kinds.add('boolean');
      else if (f & ts.TypeFlags.String) kinds.add('string');
      else if (f & ts.TypeFlags.Number) kinds.add('number');
      else if (w.checker.isArrayType(part)) {
        kinds.add('array');
        arrays.push(part);
      } else if (f & ts.TypeFlags.Object) {
        kinds.add('object');
        objects.push(part);
      } else kinds.add(`unsupported ${w.checker.typeToString(part)}`);
    }
  }
  return { kinds, literals: allLiteral && literals.length > 0 ? literals : undefined, objects, arrays };
}

const same = (a: Iterable<unknown>, b: Iterable<unknown>) =>
  JSON.stringify([...a].map(String).sort()) === JSON.stringify([...b].map(String).sort());

function compare(w: Walk, types: readonly ts.Type[], node: SchemaNode, at: string): void {
  const shape = shapeOf(w, types);
  const kinds = schemaKinds(node);
  if (!kinds) return void w.problems.push(`${at}: the schema gives no type`);
  if (!same(shape.kinds, kinds))
    w.problems.push(
      `${at}: the type allows ${[...shape.kinds].sort().join('|')}, the schema ${[...kinds].sort().join('|')}`,
    );
  const values = literalValues(node);
  if (shape.literals || values) {
    const withNull = (v: unknown[]) => (shape.kinds.has('null') ? [...v, null] : v);
    if (!shape.literals || !values || !same(withNull(shape.literals), values))
      w.problems.push(
        `${at}: the type's values ${JSON.stringify(shape.literals)}, the schema's ${JSON.stringify(values)}`,
      );
  }
  if (shape.arrays.length > 0) {
    const elements = shape.arrays.flatMap((a) => w.checker.getTypeArguments(a as ts.TypeReference).slice(0, 1));
    if (!node.items) w.opaque.push(at);
    else compare(w, elements, node.items, `${at}[]`);
  }
  if (shape.objects.length > 0) compareObject(w, shape.objects, node, at);
}

/** One object (or a union of objects, as `prepare` is): its properties, or its record values. */
function compareObject(w: Walk, objects: readonly ts.Type[], node: SchemaNode, at: string): void {
  const first = objects[0] as ts.Type;
  const index = first.getStringIndexType();
  if (index && first.getProperties().length === 0) {
    if (typeof node.additionalProperties !== 'object') return void w.opaque.push(at);
    return compare(w, [index], node.additionalProperties, `${at}.*`);
  }
  if (!node.properties) return void w.opaque.push(at);
  const props = new Map<string, { types: ts.Type[]; optional: boolean }>();
  for (const object of objects)
    for (const p of object.getProperties()) {
      const entry = props.get(p.name) ?? { types: [], optional: false };
      entry.types.push(w.checker.getTypeOfSymbol(p));
      entry.optional ||= (p.flags & ts.SymbolFlags.Optional) !== 0;
      props.set(p.name, entry);
    }
  // A property that only some members of a union have is optional in the union.
  for (const entry of props.values()) if (entry.types.length < objects.length) entry.optional = true;
  const required = new Set(node.required ?? []);
  const where = (name: string) => (at ? `${at}.${name}` : name);
  for (const name of Object.keys(node.properties))
    if (!props.has(name)) w.problems.push(`${where(name)}: in the schema, not in the type`);
  for (const [name, entry] of props) {
    const sub = node.properties[name];
    if (!sub) {
      w.problems.push(`${where(name)}: in the type, not in the schema`);
      continue;
    }
    if (entry.optional && required.has(name))
      w.problems.push(`${where(name)}: optional in the type, required by the schema`);
    if (!entry.optional && !required.has(name))
      w.problems.push(`${where(name)}: always there in the type, optional in the schema`);
    compare(w, entry.types, sub, where(name));
  }
}

const state = stateType();

/** What differs between the State type and `node` (a state schema), and which parts it leaves unchecked. */
function differences(node: unknown): { problems: string[]; opaque: string[] } {
  const w: Walk = { checker: state.checker, problems: [], opaque: [] };
  compare(w, [state.type], node as SchemaNode, '');
  return { problems: w.problems, opaque: w.opaque.sort() };
}

test('State (state-types.ts) and schema/state.schema.json describe the same data', () => {
  const { problems, opaque } = differences(schema);
  assert.equal(problems, []);
  assert.equal(opaque, [...OPAQUE].sort(), 'parts the schema leaves unchecked');
});

test('a schema that drifts from the type is caught, with the path that differs', () => {
  const drifted = structuredClone(schema) as any;
  const item = drifted.properties.items.additionalProperties;
  item.properties.failureCode.enum = item.properties.failureCode.enum.filter((c: unknown) => c !== 'lost');
  delete drifted.properties.seq;
  drifted.properties.refs.required.push('suspect');
  item.properties.attempts.type = 'string';
  drifted.properties.gates.properties.results = { type: 'array', items: { type: 'string' } };
  delete item.properties.result.type;
  const { problems } = differences(drifted);
  const paths = problems.map((p) => p.slice(0, p.indexOf(':')));
  assert.equal(paths.sort(), [
    'gates.results[]',
    'items.*.attempts',
    'items.*.failureCode',
    'items.*.result',
    'refs.suspect',
    'seq',
  ]);
  assert.ok(problems.includes('seq: in the type, not in the schema'), problems.join('\n'));
  assert.ok(problems.includes('refs.suspect: optional in the type, required by the schema'), problems.join('\n'));
});

test.run();
