/**
 * Checks of single values that a JSON schema cannot say: the milestone id and integration branch (they become git
 * branch and folder names), durations, `groomed: false`, keys given in both spellings, NUL characters. Like the
 * integrity checks, they skip a value of the wrong shape (the schema reports it).
 */
import type { Document, LineCounter } from 'yaml';
import type { Diagnostic } from '../diagnostics.ts';
import { byteSizeProblem } from '../byte-size.ts';
import { durationProblem } from '../duration.ts';
import { asList, asMap, asText, doubleSpelled, keyOf, type RawMap } from './raw.ts';
import { isValidBranchName, milestoneIdProblem, slugify } from '../slug.ts';
import { diagnosticAt, pathText } from '../yaml-positions.ts';

type Path = ReadonlyArray<string | number>;
type Report = (path: Path, message: string, at?: 'key' | 'value') => void;

/** Branch names the integration branch must not take: where the milestone lands, and what git keeps for itself. */
const MAIN_LINES: ReadonlySet<string> = new Set(['main', 'master']);

/** The milestone id the plan gives (a whole number or a valid id string), or undefined. */
export function milestoneIdOf(number: unknown): string | undefined {
  if (typeof number === 'number') return Number.isSafeInteger(number) && number >= 0 ? String(number) : undefined;
  return typeof number === 'string' && milestoneIdProblem(number) === undefined ? number : undefined;
}

/** The integration branch made from id and title when the plan does not name one. */
export function derivedBranch(id: string, title: string): string {
  const slug = slugify(title);
  return slug ? `milestone/${id}-${slug}` : `milestone/${id}`;
}

/** Every value problem of a raw plan. */
export function checkValues(plan: RawMap, doc: Document, lc: LineCounter, file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const report: Report = (path, message, at = 'value') => out.push(diagnosticAt(doc, lc, file, path, message, at));
  checkSpellings(plan, [], report);
  const milestone = asMap(plan.milestone);
  const id = milestoneIdOf(milestone?.number);
  if (plan.groomed === false)
    report(['groomed'], `milestone ${id ?? String(milestone?.number)} is not groomed; regroom it first`);
  if (milestone) checkMilestone(milestone, id, report);
  checkDurationsAndSizes(plan, report);
  checkNul(plan, [], report);
  return out;
}

/** Paths whose own check says more about a NUL: titles (the schema) and the worktree root. */
function hasOwnNulCheck(path: Path): boolean {
  const [first, second, , , fifth] = path;
  if (path.length === 2 && first === 'milestone') return second === 'title';
  if (path.length === 2 && first === 'defaults') return second === 'worktree-root' || second === 'worktree_root';
  return path.length === 5 && first === 'waves' && fifth === 'title';
}

/** A NUL in any text of the plan: it cannot reach git, a shell, a file name or an agent. */
function checkNul(node: unknown, path: Path, report: Report): void {
  if (typeof node === 'string') {
    const at = node.indexOf('\0');
    if (at >= 0 && !hasOwnNulCheck(path))
      report(
        path,
        `${pathText(path)} has a NUL character (at character ${[...node.slice(0, at)].length + 1}); no command, file name or agent can take one`,
      );
  } else if (Array.isArray(node)) node.forEach((v, i) => checkNul(v, [...path, i], report));
  else if (node !== null && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) checkNul(v, [...path, k], report);
}

function checkMilestone(milestone: RawMap, id: string | undefined, report: Report): void {
  const number = milestone.number;
  if (typeof number === 'string' && number.length > 0 && id === undefined) {
    report(
      ['milestone', 'number'],
      `milestone number ${JSON.stringify(number)} ${milestoneIdProblem(number) ?? 'is not valid'}`,
    );
  }
  const title = asText(milestone.title);
  const derived = id !== undefined && title !== undefined ? derivedBranch(id, title) : undefined;
  const branchKey = keyOf(milestone, 'integration-branch');
  const branch = asText(milestone[branchKey]);
  if (branch !== undefined) {
    const problem = branchProblem(branch, derived ?? `milestone/${id ?? '<N>'}-<slug>`);
    if (problem) report(['milestone', branchKey], `integration branch ${JSON.stringify(branch)} ${problem}`);
  } else if (milestone[branchKey] === undefined && derived !== undefined && !isValidBranchName(derived)) {
    report(
      ['milestone', 'title'],
      `integration branch ${JSON.stringify(derived)} made from the title is not a valid git branch name; set milestone.integration-branch`,
    );
  }
}

/** Why `branch` cannot be the integration branch, or undefined. */
function branchProblem(branch: string, example: string): string | undefined {
  if (branch === 'HEAD') return `names the checked-out commit, not a branch; use a branch of its own, e.g. ${example}`;
  if (MAIN_LINES.has(branch))
    return `is a main line, where the milestone lands; use a branch of its own, e.g. ${example}`;
  if (branch === 'work' || branch.startsWith('work/'))
    return `is in work/, where the item branches go; use e.g. ${example}`;
  if (!isValidBranchName(branch)) return 'is not a valid git branch name';
  return undefined;
}

/**
 * Every duration (`defaults.timeout`, `defaults.gate-timeout`, item timeouts, gate timeouts) and size
 * (`defaults.max-output`, item ones); both spellings.
 */
function checkDurationsAndSizes(plan: RawMap, report: Report): void {
  const check = (map: RawMap | undefined, path: Path, key: string): void => {
    const problemOf = key === 'max-output' ? byteSizeProblem : durationProblem;
    for (const k of new Set([key, key.replace(/-/g, '_')])) {
      if (map?.[k] === undefined) continue;
      const problem = problemOf(map[k]);
      if (problem) report([...path, k], `${pathText([...path, k])} ${problem}`);
    }
  };
  const defaults = asMap(plan.defaults);
  check(defaults, ['defaults'], 'timeout');
  check(defaults, ['defaults'], 'gate-timeout');
  check(defaults, ['defaults'], 'max-output');
  (asList(plan.waves) ?? []).forEach((w, wi) => {
    (asList(asMap(w)?.items) ?? []).forEach((item, ii) => {
      check(asMap(item), ['waves', wi, 'items', ii], 'timeout');
      check(asMap(item), ['waves', wi, 'items', ii], 'max-output');
    });
  });
  for (const gatesKey of ['quality-gates', 'quality_gates']) {
    const gates = asMap(plan[gatesKey]);
    for (const listKey of ['pre-merge', 'pre_merge', 'post-merge', 'post_merge']) {
      (asList(gates?.[listKey]) ?? []).forEach((gate, gi) => check(asMap(gate), [gatesKey, listKey, gi], 'timeout'));
    }
  }
}

/** Report maps that give one key in both spellings. */
function checkSpellings(node: unknown, path: Path, report: Report): void {
  if (Array.isArray(node)) node.forEach((v, i) => checkSpellings(v, [...path, i], report));
  else if (node && typeof node === 'object') {
    const map = node as RawMap;
    for (const k of doubleSpelled(map))
      report([...path, k.replace(/-/g, '_')], `"${k}" and "${k.replace(/-/g, '_')}" are both given; keep one`, 'key');
    for (const [k, v] of Object.entries(map)) checkSpellings(v, [...path, k], report);
  }
}
