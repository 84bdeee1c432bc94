/** Sizes as the plan writes them: a number of bytes, or `64KiB`, `512MiB`, `1GiB` (K, M, G: the same). */
import { BadInputError } from './errors.ts';

const UNIT_BYTES: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** The smallest size a plan may give for an output limit: below it, a report alone would not fit. */
export const MIN_BYTE_SIZE = 64 * 1024;

/** What is wrong with a size, as the end of a sentence about it, or undefined when it is fine. */
export function byteSizeProblem(value: unknown): string | undefined {
  const bytes = toBytes(value);
  if (bytes === undefined) return 'must be a size: bytes, or a number with KiB, MiB or GiB (e.g. 512MiB)';
  if (bytes < MIN_BYTE_SIZE) return 'must be at least 64KiB';
  if (!Number.isSafeInteger(bytes)) return 'is too big';
  return undefined;
}

function toBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^(\d+)\s*(?:([kmgt])(?:ib)?)?$/i.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_BYTES[(match[2] ?? '').toLowerCase()] ?? 1);
}

/** Bytes for a plan size; throws BadInputError (exit 2) for anything `byteSizeProblem` rejects. */
export function parseByteSize(value: number | string): number {
  const problem = byteSizeProblem(value);
  if (problem !== undefined) throw new BadInputError(`size "${String(value)}" ${problem}`);
  return toBytes(value) as number;
}

/** `1 GiB`, `512 MiB`, `100 KiB`, `900 B`: the largest unit that keeps a whole number, else one decimal. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${Number.isInteger(n) ? n : n.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}
