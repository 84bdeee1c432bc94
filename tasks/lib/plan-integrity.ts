/** The integrity checks of DESIGN §2 (2–5), plus the ones a schema cannot say; all collected. */
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { doubleSpelled, pick, rawWaves, type RawMap } from './plan-raw.ts';
import { isValidBranchName } from './slug.ts';
import { positionOf } from './yaml-positions.ts';

type Path = ReadonlyArray<string | number>;

/** Every integrity problem of a schema-valid raw plan. */
export function checkIntegrity(plan: RawMap, doc: Document, lc: LineCounter, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report = (path: Path, message: string, at: 'key' | 'value' = 'value'): void => {
    const { line, col } = positionOf(doc, lc, path, at);
    out.push({ severity: 'error', message, file, line, col });
  };
  const milestone = plan.milestone as RawMap;

  if (plan.groomed === false) report(['groomed'], `milestone ${String(milestone.number)} is not groomed; regroom it first`);
  checkSpellings(plan, [], report);

  const branch = pick<string>(milestone, 'integration-branch');
  if (branch !== undefined && !isValidBranchName(branch)) {
    const key = 'integration-branch' in milestone ? 'integration-branch' : 'integration_branch';
    report(['milestone', key], `integration branch "${branch}" is not a valid git branch name`);
  }

  const groups = new Set<string>();
  const groupList = pick<RawMap[]>(plan, 'conflict-groups') ?? [];
  const groupsKey = 'conflict-groups' in plan ? 'conflict-groups' : 'conflict_groups';
  groupList.forEach((g, i) => {
    const id = pick<string | number>(g, 'group-id');
    if (id === undefined) report([groupsKey, i], `conflict group is missing "group-id"`);
    else if (groups.has(String(id))) report([groupsKey, i], `conflict group ${String(id)} is defined twice`);
    else groups.add(String(id));
  });

  // Where each issue is: its wave and path, for checks 2 and 4.
  const seen = new Map<number, { wave: number; path: Path }>();
  let previousWave = 0;
  rawWaves(plan).forEach(({ wave, items }, wi) => {
    const number = wave.wave as number;
    if (number <= previousWave) report(['waves', wi, 'wave'], `wave ${number} comes after wave ${previousWave}; waves must be numbered in increasing order`);
    previousWave = Math.max(previousWave, number);
    items.forEach((item, ii) => {
      const issue = item.issue as number;
      const path: Path = ['waves', wi, 'items', ii];
      const first = seen.get(issue);
      if (first) report([...path, 'issue'], `issue #${issue} appears more than once (first in wave ${first.wave})`);
      else seen.set(issue, { wave: number, path });
    });
  });

  rawWaves(plan).forEach(({ wave, items }, wi) => {
    const number = wave.wave as number;
    const byGroup = new Map<string, number[]>();
    items.forEach((item, ii) => {
      const path: Path = ['waves', wi, 'items', ii];
      const issue = item.issue as number;
      const group = pick<string | number | null>(item, 'conflict-group');
      const groupKey = 'conflict-group' in item ? 'conflict-group' : 'conflict_group';
      if (group !== undefined && group !== null) {
        if (!groups.has(String(group))) report([...path, groupKey], `conflict group ${String(group)} is not defined in conflict-groups`);
        byGroup.set(String(group), [...(byGroup.get(String(group)) ?? []), ii]);
      }
      const depsKey = 'depends-on' in item ? 'depends-on' : 'depends_on';
      (pick<number[]>(item, 'depends-on') ?? []).forEach((dep, di) => {
        const where = seen.get(dep);
        const at = [...path, depsKey, di];
        if (dep === issue) report(at, `#${issue} depends on itself`);
        else if (!where) report(at, `#${issue} depends on #${dep}, which is in no wave`);
        else if (where.wave === number) report(at, `#${issue} depends on #${dep}, which is in the same wave ${number}`);
        else if (where.wave > number) report(at, `#${issue} depends on #${dep}, which is in a later wave (${where.wave})`);
      });
    });
    if (wave.parallel === false) return;
    for (const [group, indexes] of byGroup) {
      for (const ii of indexes.slice(1)) {
        const item = items[ii] as RawMap;
        const groupKey = 'conflict-group' in item ? 'conflict-group' : 'conflict_group';
        const firstIssue = (items[indexes[0] as number] as RawMap).issue as number;
        report(
          ['waves', wi, 'items', ii, groupKey],
          `#${String(item.issue)} and #${firstIssue} share conflict group ${group} in parallel wave ${number}; move one to another wave or set parallel: false`,
        );
      }
    }
  });
  return out;
}

/** Report maps that give one key in both spellings. */
function checkSpellings(node: unknown, path: Path, report: (p: Path, m: string, at: 'key') => void): void {
  if (Array.isArray(node)) node.forEach((v, i) => checkSpellings(v, [...path, i], report));
  else if (node && typeof node === 'object') {
    const map = node as RawMap;
    for (const k of doubleSpelled(map)) report([...path, k.replace(/-/g, '_')], `"${k}" and "${k.replace(/-/g, '_')}" are both given; keep one`, 'key');
    for (const [k, v] of Object.entries(map)) checkSpellings(v, [...path, k], report);
  }
}
