/**
 * Read access to the raw plan object, with kebab-case and snake_case keys merged. The checks use the `as…`
 * readers, which give undefined for a node of the wrong shape (the schema reports those), so that every
 * check runs even on a plan that failed the schema.
 */

/** A raw YAML mapping. */
export type RawMap = Readonly<Record<string, unknown>>;

/** The value of a key written kebab-case or snake_case (kebab wins; both given is reported by the integrity check). */
export function pick<T>(map: RawMap | undefined, kebab: string): T | undefined {
  if (!map) return undefined;
  const snake = kebab.replace(/-/g, '_');
  return (map[kebab] ?? map[snake]) as T | undefined;
}

/** The spelling of `kebab` this map uses (kebab-case when it has neither), for paths in messages. */
export function keyOf(map: RawMap | undefined, kebab: string): string {
  const snake = kebab.replace(/-/g, '_');
  return map && !Object.hasOwn(map, kebab) && Object.hasOwn(map, snake) ? snake : kebab;
}

/** Keys that are spelt both ways in one map, e.g. `depends-on` and `depends_on`. */
export function doubleSpelled(map: RawMap): string[] {
  return Object.keys(map).filter((k) => k.includes('-') && Object.hasOwn(map, k.replace(/-/g, '_')));
}

/** The waves of a raw (schema-valid) plan, with their items. */
export function rawWaves(plan: RawMap): ReadonlyArray<{ readonly wave: RawMap; readonly items: readonly RawMap[] }> {
  return (asList(plan.waves) ?? []).map((w) => {
    const wave = asMap(w) ?? {};
    return { wave, items: (asList(wave.items) ?? []).map((i) => asMap(i) ?? {}) };
  });
}

/** `value` when it is a mapping. */
export function asMap(value: unknown): RawMap | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as RawMap) : undefined;
}

/** `value` when it is a list. */
export function asList(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

/** `value` when it is an issue number: a safe integer ≥ 1. */
export function asIssue(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : undefined;
}

/** `value` when it is a non-empty string. */
export function asText(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A conflict group id (`1` and `"1"` are the same group), or undefined. */
export function asGroupId(value: unknown): string | undefined {
  return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' ? String(value) : undefined;
}
