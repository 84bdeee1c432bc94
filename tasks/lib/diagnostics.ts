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

/**
 * The values of reads made side by side (`Promise.allSettled`, `settleAtMost`). When any failed: the first failure
 * in the entries' order that is not bad input in a file (an I/O error) is thrown as is, else every file's diagnostics
 * at once, sorted, so the message does not depend on which read ended first.
 */
export function settledValues<R>(results: readonly PromiseSettledResult<R>[]): R[] {
  const failures: unknown[] = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (failures.length === 0) return results.map((r) => (r as PromiseFulfilledResult<R>).value);
  const other = failures.find((e) => !(e instanceof DiagnosticsError));
  if (other !== undefined) throw other;
  throw new DiagnosticsError(failures.flatMap((e) => (e as DiagnosticsError).diagnostics));
}
