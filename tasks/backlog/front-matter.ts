/** Markdown files with YAML front matter: split, parse with line:col problems, validate, edit in place, serialise. */
import { LineCounter, isMap, isScalar, parseDocument, stringify, type Document } from 'yaml';
import type { BacklogStatus } from './backlog.ts';
import { BadInputError } from '../lib/errors.ts';
import { checkSchema, loadSchema } from '../lib/schema-check.ts';
import { positionOf } from '../lib/yaml-positions.ts';

/** Front matter of a backlog item file, as `schema/backlog-item.schema.json` accepts it. */
export interface ItemFrontMatter {
  readonly issue: number;
  readonly title: string;
  readonly status: BacklogStatus;
  readonly milestone?: number | string | null;
  readonly priority?: string | null;
  readonly groomed?: boolean;
  readonly labels?: readonly string[];
  readonly 'depends-on'?: readonly number[];
  readonly depends_on?: readonly number[];
  readonly [key: string]: unknown;
}

/** A problem in a file, at a 1-based line:col of the whole file. */
export interface Problem {
  readonly message: string;
  readonly line: number;
  readonly col: number;
}

/** A parsed item file: validated front matter, the YAML document, the body and its `## ` sections. */
export interface ItemFile {
  readonly data: ItemFrontMatter;
  readonly doc: Document;
  /** Offset in the file where the YAML text starts (after the opening `---` line). */
  readonly yamlStart: number;
  readonly body: string;
  readonly sections: Readonly<Record<string, string>>;
}

/** Outcome of parsing: the file, or every problem found. */
export type ParseResult =
  { readonly ok: true; readonly file: ItemFile } | { readonly ok: false; readonly problems: readonly Problem[] };

const validate = loadSchema('backlog-item.schema.json');
const OPEN = /^---[ \t]*\r?\n/;
const CLOSE = /^---[ \t]*(?:\r?\n|$)/gm;

/** Split `---\n<yaml>---\n<body>`; undefined when the file has no (closed) front matter. */
export function splitFrontMatter(text: string): { yaml: string; yamlStart: number; body: string } | undefined {
  const open = OPEN.exec(text);
  if (!open) return undefined;
  const close = new RegExp(CLOSE.source, CLOSE.flags);
  close.lastIndex = open[0].length;
  const m = close.exec(text);
  if (!m) return undefined;
  return {
    yaml: text.slice(open[0].length, m.index),
    yamlStart: open[0].length,
    body: text.slice(m.index + m[0].length),
  };
}

/** Parse and validate an item file; `expectedIssue` (from the file name) must match `issue`. */
export function parseItemFile(text: string, expectedIssue?: number): ParseResult {
  const parts = splitFrontMatter(text);
  if (!parts)
    return {
      ok: false,
      problems: [
        {
          message: 'missing YAML front matter: the file must start with a --- line and close it with another',
          line: 1,
          col: 1,
        },
      ],
    };
  const lineCounter = new LineCounter();
  const doc = parseDocument(parts.yaml, { lineCounter, prettyErrors: false });
  // The YAML text starts on line 2 of the file, after the opening `---`.
  const at = (offset: number): { line: number; col: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line + 1, col: p.col };
  };
  if (doc.errors.length > 0)
    return { ok: false, problems: doc.errors.map((e) => ({ message: e.message, ...at(e.pos[0]) })) };
  const data: unknown = doc.toJS();
  // The YAML text starts on line 2 of the file, after the opening `---`; the file name is the caller's to add.
  const problems = checkSchema(validate, data, doc, lineCounter, '', 'front matter');
  if (problems.length > 0)
    return { ok: false, problems: problems.map((d) => ({ message: d.message, line: d.line + 1, col: d.col })) };
  // No problem means the schema accepted it.
  const front = data as ItemFrontMatter;
  if (expectedIssue !== undefined && front.issue !== expectedIssue) {
    const p = positionOf(doc, lineCounter, ['issue']);
    return {
      ok: false,
      problems: [
        {
          message: `issue ${front.issue} does not match the file name ${expectedIssue}.md`,
          line: p.line + 1,
          col: p.col,
        },
      ],
    };
  }
  return {
    ok: true,
    file: { data: front, doc, yamlStart: parts.yamlStart, body: parts.body, sections: splitSections(parts.body) },
  };
}

/**
 * Split a markdown body into `## ` sections: heading text → content, trimmed; headings inside code fences don't count.
 */
export function splitSections(body: string): Record<string, string> {
  const entries: [string, string][] = [];
  let current: { heading: string; lines: string[] } | undefined;
  let fence: string | undefined;
  for (const line of body.split(/\r?\n/)) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (f !== undefined && fence === undefined) fence = f;
    else if (
      f !== undefined &&
      fence !== undefined &&
      f[0] === fence[0] &&
      f.length >= fence.length &&
      line.trim() === f
    )
      fence = undefined;
    const h = fence === undefined ? /^## (.*)$/.exec(line) : null;
    if (h) {
      if (current) entries.push([current.heading, current.lines.join('\n').trim()]);
      current = { heading: (h[1] ?? '').trim(), lines: [] };
    } else current?.lines.push(line);
  }
  if (current) entries.push([current.heading, current.lines.join('\n').trim()]);
  // fromEntries defines own properties, so a heading like `__proto__` stays data.
  return Object.fromEntries(entries);
}

/** Serialise front matter and `## ` sections (in order) to a markdown file. */
export function formatItemFile(
  front: Readonly<Record<string, unknown>>,
  sections: Readonly<Record<string, string>>,
): string {
  const parts = Object.entries(sections).map(([heading, content]) => {
    if (heading.trim() === '' || /[\r\n]/.test(heading))
      throw new BadInputError(`invalid section heading ${JSON.stringify(heading)}: must be one non-empty line`);
    const text = content.trim();
    return text === '' ? `## ${heading}\n` : `## ${heading}\n\n${text}\n`;
  });
  // lineWidth 0: never fold long strings, so a title stays on its line.
  const yaml = stringify(front, { lineWidth: 0 });
  return `---\n${yaml}---\n${parts.length > 0 ? `\n${parts.join('\n')}` : ''}`;
}

/** Rewrite only the `status:` value of a parsed file; every other byte stays as it was. */
export function replaceStatus(text: string, file: ItemFile, status: BacklogStatus): string {
  const contents = file.doc.contents;
  const node = isMap(contents) ? contents.get('status', true) : undefined;
  if (!isScalar(node) || !node.range) throw new BadInputError('front matter has no status value to change');
  const [start, end] = node.range;
  return text.slice(0, file.yamlStart + start) + status + text.slice(file.yamlStart + end);
}
