/** Diagnostics with file:line:col, printed the way compilers print them. */
import { BadInputError } from './errors.ts';

/** One problem found in an input file. */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** `plan/milestone-7-dispatch.yaml:12:9 error: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.severity}: ${d.message}`;
}

/** Sort by position so the output reads top to bottom, as the file does. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort(
    (a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message),
  );
}

/** Bad input found in a file: carries every diagnostic; the message is all of them, one per line. */
export class DiagnosticsError extends BadInputError {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    const sorted = sortDiagnostics(diagnostics);
    super(sorted.map(formatDiagnostic).join('\n'));
    this.diagnostics = sorted;
  }
}
