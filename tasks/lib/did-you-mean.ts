/** "did you mean …?" for a misspelt command, step, flag or plan key: the closest known word by edit distance. */

/** Edits (insert, delete, substitute, swap of neighbours) beyond which a word is not taken for a misspelling. */
const MAX_DISTANCE = 2;

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => (rows[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known word closest to `word` within 2 edits (the first one listed on a tie), or null. A word of 1 or 2 letters
 * is only a misspelling of one at distance 1 (`rn` → `run`), else every short word would match.
 */
export function closestWord(word: string, known: readonly string[]): string | null {
  const limit = word.length <= 2 ? 1 : MAX_DISTANCE;
  let best: { word: string; distance: number } | null = null;
  for (const candidate of known) {
    if (candidate === word) continue;
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (best === null || distance < best.distance)) best = { word: candidate, distance };
  }
  return best?.word ?? null;
}

/** `; did you mean "run"?` (the words quoted as `quote` says), or '' when nothing is close. */
export function didYouMean(
  word: string,
  known: readonly string[],
  quote: (w: string) => string = (w) => `"${w}"`,
): string {
  const close = closestWord(word, known);
  return close === null ? '' : `; did you mean ${quote(close)}?`;
}
