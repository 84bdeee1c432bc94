/**
 * The plan's integrity checks (docs/plan-format.md: unique issues, dependencies on earlier waves, conflict groups), all
 * collected. They run on plans that failed the schema too: a node of the wrong shape is skipped (the schema reports
 * it), and a check that needs the whole plan (an issue "in no wave", a group "not defined") is made only when every
 * wave, item and group could be read.
 */
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from '../diagnostics.ts';
import { asGroupId, asIssue, asList, asMap, keyOf, type RawMap } from './raw.ts';
import { diagnosticAt, pathText } from '../yaml-positions.ts';

type Path = ReadonlyArray<string | number>;
type Report = (path: Path, message: string) => void;

interface ItemView {
  readonly path: Path;
  readonly map: RawMap;
  readonly issue: number | undefined;
}

interface WaveView {
  readonly index: number;
  readonly number: number | undefined;
  /** true or false as written (absent = true); undefined when it is not a boolean. */
  readonly parallel: boolean | undefined;
  readonly items: readonly ItemView[];
}

/** Every integrity problem of a raw plan. */
export function checkIntegrity(plan: RawMap, doc: Document, lc: LineCounter, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report: Report = (path, message) => out.push(diagnosticAt(doc, lc, file, path, message));
  const groups = readGroups(plan, report);
  const { waves, complete } = readWaves(plan);
  checkWaveNumbers(waves, report);

  // Where each issue is first found, for checks 2 and 4.
  const seen = new Map<number, { readonly wave: number | undefined; readonly path: Path }>();
  for (const wave of waves) {
    for (const { path, issue } of wave.items) {
      if (issue === undefined) continue;
      const first = seen.get(issue);
      const where = first?.wave === undefined ? `at ${pathText(first?.path ?? [])}` : `in wave ${first.wave}`;
      if (first) report([...path, 'issue'], `issue #${issue} appears more than once (first ${where})`);
      else seen.set(issue, { wave: wave.number, path });
    }
  }

  for (const wave of waves) {
    const byGroup = new Map<string, ItemView[]>();
    for (const item of wave.items) {
      if (item.issue === undefined) continue;
      const groupKey = keyOf(item.map, 'conflict-group');
      const group = asGroupId(item.map[groupKey]);
      if (group !== undefined) {
        if (groups.complete && !groups.ids.has(group))
          report([...item.path, groupKey], `conflict group ${group} is not defined in conflict-groups`);
        byGroup.set(group, [...(byGroup.get(group) ?? []), item]);
      }
      checkDependencies(item, item.issue, wave.number, seen, complete, report);
    }
    if (wave.parallel !== true) continue;
    const name = wave.number === undefined ? `waves[${wave.index}]` : `wave ${wave.number}`;
    for (const [group, [first, ...rest]] of byGroup) {
      for (const item of rest) {
        report(
          [...item.path, keyOf(item.map, 'conflict-group')],
          `#${String(item.issue)} and #${String(first?.issue)} share conflict group ${group} in parallel ${name}; move one to another wave or set parallel: false`,
        );
      }
    }
  }
  return out;
}

function checkDependencies(
  item: ItemView,
  issue: number,
  waveNumber: number | undefined,
  seen: ReadonlyMap<number, { readonly wave: number | undefined }>,
  complete: boolean,
  report: Report,
): void {
  const depsKey = keyOf(item.map, 'depends-on');
  (asList(item.map[depsKey]) ?? []).forEach((value, di) => {
    const dep = asIssue(value);
    if (dep === undefined) return;
    const where = seen.get(dep);
    const at = [...item.path, depsKey, di];
    if (dep === issue) report(at, `#${issue} depends on itself`);
    else if (!where) {
      // An item that could not be read may be the one it means.
      if (complete) report(at, `#${issue} depends on #${dep}, which is in no wave`);
    } else if (where.wave === undefined || waveNumber === undefined) return;
    else if (where.wave === waveNumber)
      report(at, `#${issue} depends on #${dep}, which is in the same wave ${waveNumber}`);
    else if (where.wave > waveNumber)
      report(at, `#${issue} depends on #${dep}, which is in a later wave (${where.wave})`);
  });
}

/** Wave numbers: each used once, in increasing order. */
function checkWaveNumbers(waves: readonly WaveView[], report: Report): void {
  const used = new Set<number>();
  let previous = 0;
  for (const { index, number } of waves) {
    if (number === undefined) continue;
    if (used.has(number)) report(['waves', index, 'wave'], `wave ${number} is used twice`);
    else if (number < previous)
      report(
        ['waves', index, 'wave'],
        `wave ${number} comes after wave ${previous}; waves must be numbered in increasing order`,
      );
    used.add(number);
    previous = Math.max(previous, number);
  }
}

/** The conflict group ids; `complete` when every group could be read. */
function readGroups(plan: RawMap, report: Report): { ids: Set<string>; complete: boolean } {
  const key = keyOf(plan, 'conflict-groups');
  const list = asList(plan[key]);
  const ids = new Set<string>();
  let complete = plan[key] === undefined || list !== undefined;
  (list ?? []).forEach((g, i) => {
    const map = asMap(g);
    const idKey = keyOf(map, 'group-id');
    const id = asGroupId(map?.[idKey]);
    if (map && map[idKey] === undefined) report([key, i], `conflict group is missing "group-id"`);
    if (id === undefined) complete = false;
    else if (ids.has(id)) report([key, i, idKey], `conflict group ${id} is defined twice`);
    else ids.add(id);
  });
  return { ids, complete };
}

/** The waves and items that can be read; `complete` when that is all of them. */
function readWaves(plan: RawMap): { waves: WaveView[]; complete: boolean } {
  const list = asList(plan.waves);
  let complete = list !== undefined;
  const waves = (list ?? []).map((w, wi): WaveView => {
    const wave = asMap(w);
    const n = wave?.wave;
    const number = typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
    const itemList = asList(wave?.items);
    if (!wave || number === undefined || !itemList) complete = false;
    const items = (itemList ?? []).flatMap((x, ii): ItemView[] => {
      const map = asMap(x);
      const issue = asIssue(map?.issue);
      if (!map || issue === undefined) complete = false;
      return map ? [{ path: ['waves', wi, 'items', ii], map, issue }] : [];
    });
    const parallel =
      wave?.parallel === undefined ? true : typeof wave.parallel === 'boolean' ? wave.parallel : undefined;
    return { index: wi, number, parallel, items };
  });
  return { waves, complete };
}
