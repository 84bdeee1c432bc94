/** Token counts from an agent's stored `usage` (claude's JSON, codex's summed `turn.completed.usage`), pure. */

/** Tokens of one agent run or a sum of runs; cache counts are part of no other count. */
export interface Tokens {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

/** No tokens. */
export const NO_TOKENS: Tokens = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/**
 * The tokens a `usage` record names (claude: `input_tokens`, `output_tokens`, `cache_read_input_tokens`,
 * `cache_creation_input_tokens`; codex: `input_tokens` including `cached_input_tokens`, `output_tokens`); null when
 * there is none.
 */
export function tokensOf(usage: Readonly<Record<string, unknown>> | null | undefined): Tokens | null {
  if (!usage) return null;
  const cached = num(usage.cached_input_tokens);
  const tokens: Tokens = {
    // codex counts cached input inside input_tokens; claude counts it apart.
    input: Math.max(0, num(usage.input_tokens) - cached),
    output: num(usage.output_tokens),
    cacheRead: num(usage.cache_read_input_tokens) + cached,
    cacheWrite: num(usage.cache_creation_input_tokens),
  };
  return totalOf(tokens) > 0 ? tokens : null;
}

/** All tokens of a count. */
export function totalOf(t: Tokens): number {
  return t.input + t.output + t.cacheRead + t.cacheWrite;
}

/** The sum of counts (nulls count nothing). */
export function addTokens(list: ReadonlyArray<Tokens | null>): Tokens {
  return list.reduce<Tokens>(
    (sum, t) =>
      t
        ? {
            input: sum.input + t.input,
            output: sum.output + t.output,
            cacheRead: sum.cacheRead + t.cacheRead,
            cacheWrite: sum.cacheWrite + t.cacheWrite,
          }
        : sum,
    NO_TOKENS,
  );
}

/** `12.3k in, 4.5k out, 80k cached`: short, for a table cell or a line. */
export function formatTokens(t: Tokens | null): string {
  if (!t || totalOf(t) === 0) return '-';
  const k = (n: number) =>
    n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : `${n}`;
  const cached = t.cacheRead + t.cacheWrite;
  return `${k(t.input)} in, ${k(t.output)} out${cached ? `, ${k(cached)} cached` : ''}`;
}
