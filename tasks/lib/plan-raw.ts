/** Read access to the raw (schema-valid) plan object, with kebab-case and snake_case keys merged. */

/** A raw YAML mapping. */
export type RawMap = Readonly<Record<string, unknown>>;

/** The value of a key written kebab-case or snake_case (kebab wins; both given is reported by the integrity check). */
export function pick<T>(map: RawMap | undefined, kebab: string): T | undefined {
  if (!map) return undefined;
  const snake = kebab.replace(/-/g, '_');
  return (map[kebab] ?? map[snake]) as T | undefined;
}

/** Keys that are spelt both ways in one map, e.g. `depends-on` and `depends_on`. */
export function doubleSpelled(map: RawMap): string[] {
  return Object.keys(map).filter((k) => k.includes('-') && Object.hasOwn(map, k.replace(/-/g, '_')));
}

/** The waves of a raw plan, with their items. */
export function rawWaves(plan: RawMap): ReadonlyArray<{ readonly wave: RawMap; readonly items: readonly RawMap[] }> {
  return ((plan.waves as RawMap[] | undefined) ?? []).map((wave) => ({ wave, items: (wave.items as RawMap[]) ?? [] }));
}
