/**
 * Plan text → YAML document + plain data; every YAML-level problem (syntax, aliases, keys, top level) is a diagnostic.
 */
import { isAlias, isCollection, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Alias, Document, Node, YAMLError } from 'yaml';
import { DiagnosticsError } from '../diagnostics.ts';
import { asMap, type RawMap } from './raw.ts';

/** yaml's own alias guard (its default, 100, is too few for a big plan that shares one anchor). */
const MAX_ALIAS_COUNT = 10_000;
/** A plan with more values than this once aliases are expanded is an alias bomb, not a plan. */
const MAX_EXPANDED_NODES = 100_000;

/** A parsed plan file: the document (for positions), its line counter and its data, a mapping. */
export interface PlanYaml {
  readonly doc: Document;
  readonly lc: LineCounter;
  readonly data: RawMap;
}

interface Problem {
  readonly offset: number;
  readonly message: string;
}

/** Parse plan text; throws DiagnosticsError (exit 2) for anything that is not one YAML mapping. */
export function loadPlanYaml(source: string, file: string): PlanYaml {
  // A byte-order mark is no column in an editor; without this every column of line 1 is one too far.
  const text = source.startsWith('\uFEFF') ? source.slice(1) : source;
  const lc = new LineCounter();
  const fail = (problems: readonly Problem[]): never => {
    throw new DiagnosticsError(
      problems.map((p) => ({ severity: 'error', message: p.message, file, ...lc.linePos(p.offset) })),
    );
  };
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, logLevel: 'error' });
  if (doc.errors.length > 0)
    fail(
      firstPerLine(
        doc.errors.map((e) => ({ offset: e.pos[0], message: syntaxMessage(e, doc, text) })),
        lc,
      ),
    );

  const { problems, aliases } = checkStructure(doc);
  if (problems.length > 0) fail(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const blamed = aliases.biggest ?? aliases.first;
    const message = /Excessive alias count/.test(String(error))
      ? `${blamed ? `alias *${blamed.source} expands to` : 'the plan uses'} too many aliases (over ${MAX_ALIAS_COUNT} uses); a plan needs no alias bomb`
      : `the plan cannot be read: ${(error as Error).message}`;
    fail([{ offset: blamed?.range?.[0] ?? startOf(doc.contents), message }]);
  }
  const map = asMap(data);
  if (!map)
    return fail([{ offset: startOf(doc.contents), message: 'a plan must be a YAML mapping with milestone and waves' }]);
  return { doc, lc, data: map };
}

function startOf(node: unknown): number {
  return isNode(node) && node.range ? node.range[0] : 0;
}

/**
 * One missing `]` makes yaml report the list and then the `{…}` around it: the first error of a line is the one to fix.
 */
function firstPerLine(problems: readonly Problem[], lc: LineCounter): Problem[] {
  const lines = new Set<number>();
  return [...problems]
    .sort((a, b) => a.offset - b.offset)
    .filter((p) => {
      const { line } = lc.linePos(p.offset);
      if (lines.has(line)) return false;
      lines.add(line);
      return true;
    });
}

function syntaxMessage(e: YAMLError, doc: Document, text: string): string {
  switch (e.code) {
    case 'MULTIPLE_DOCS':
      return `a plan is one YAML document; remove the second one (from ${text.startsWith('---', e.pos[0]) ? 'this ---' : 'here'})`;
    case 'DUPLICATE_KEY': {
      const key = keyAt(doc, e.pos[0]);
      return key === undefined ? 'duplicate key' : `duplicate key ${JSON.stringify(key)}`;
    }
    default:
      return e.message;
  }
}

/** The text of the scalar key that starts at `offset`. */
function keyAt(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

interface AliasFacts {
  readonly first?: Alias;
  /** The alias whose target is largest once expanded: where an alias bomb goes off. */
  readonly biggest?: Alias;
}

/** Aliases that resolve to nothing or to a node around them, alias bombs, and list or map keys. */
function checkStructure(doc: Document): { problems: Problem[]; aliases: AliasFacts } {
  const problems: Problem[] = [];
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node | undefined>();
  const keys: Node[] = [];
  // Document order, as yaml resolves an alias: to the last anchor of that name before it.
  visit(doc, {
    Pair(_, pair) {
      if (isNode(pair.key)) keys.push(pair.key);
    },
    Node(_, node) {
      if (isAlias(node)) targets.set(node, anchors.get(node.source));
      else if (node.anchor) anchors.set(node.anchor, node);
    },
  });
  for (const [alias, target] of targets) {
    if (!target)
      problems.push({
        offset: startOf(alias),
        message: `Unresolved alias (the anchor must be set before the alias): ${alias.source}`,
      });
  }
  for (const key of keys) {
    const node = isAlias(key) ? targets.get(key) : key;
    if (isCollection(node))
      problems.push({
        offset: startOf(key),
        message: `a key must be plain text, not a ${isSeq(node) ? 'list' : 'mapping'}`,
      });
  }

  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      if (target && open.has(target)) {
        problems.push({ offset: startOf(node), message: `alias *${node.source} is inside the node it refers to` });
        return 0;
      }
      return target ? sizeOf(target) : 0;
    }
    if (!isCollection(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    open.add(node);
    let n = 1;
    for (const item of node.items) n += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
    open.delete(node);
    sizes.set(node, n);
    return n;
  };
  const first = targets.keys().next().value;
  let total: number;
  try {
    total = sizeOf(doc.contents);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    problems.push({ offset: startOf(doc.contents), message: 'the plan is nested too deeply' });
    return { problems, aliases: { first } };
  }
  // Every size is known now (memoised), so this costs nothing more.
  let biggest: Alias | undefined;
  for (const [alias, target] of targets) {
    if (target && (!biggest || sizeOf(target) > sizeOf(targets.get(biggest)))) biggest = alias;
  }
  if (total > MAX_EXPANDED_NODES && biggest) {
    problems.push({
      offset: startOf(biggest),
      message: `alias *${biggest.source} makes the plan too large (over ${MAX_EXPANDED_NODES} values once aliases are expanded); a plan needs no alias bomb`,
    });
  }
  return { problems, aliases: { first, biggest } };
}
