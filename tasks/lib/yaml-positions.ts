/** Map a path in a YAML document to a 1-based line:col, for diagnostics. */
import { isMap, isNode, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';

/** A position in a file. */
export interface Position {
  readonly line: number;
  readonly col: number;
}

type Segment = string | number;

/** Position of the value at `path`, or of its key when `at === 'key'`; falls back to the deepest node that exists. */
export function positionOf(
  doc: Document,
  lc: LineCounter,
  path: readonly Segment[],
  at: 'key' | 'value' = 'value',
): Position {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  let best: Node | undefined = isNode(node) ? node : undefined;
  for (const seg of path) {
    keyNode = undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = isNode(pair.key) ? pair.key : undefined;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      break;
    }
    if (isNode(node) && node.range) best = node;
    else if (keyNode) best = keyNode;
  }
  const target = at === 'key' && keyNode ? keyNode : best;
  const offset = target?.range?.[0] ?? 0;
  return lc.linePos(offset);
}

/** Position of the key `key` inside the map at `path` (for unknown keys). */
export function keyPositionOf(doc: Document, lc: LineCounter, path: readonly Segment[], key: string): Position {
  return positionOf(doc, lc, [...path, key], 'key');
}

/** An error diagnostic at the value (or key) at `path`. */
export function diagnosticAt(
  doc: Document,
  lc: LineCounter,
  file: string,
  path: readonly Segment[],
  message: string,
  at: 'key' | 'value' = 'value',
): Diagnostic {
  const { line, col } = positionOf(doc, lc, path, at);
  return { severity: 'error', message, file, line, col };
}

/** `waves[0].items[1].issue` for `['waves', 0, 'items', 1, 'issue']`. */
export function pathText(path: readonly Segment[]): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg),
    '',
  );
}
