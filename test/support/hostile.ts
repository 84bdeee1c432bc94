/**
 * Milestones whose item #1 agent does one hostile thing (a shell snippet) besides its honest work (COMMITTING_AGENT),
 * for the tests of what the runner does about it.
 */
import { COMMITTING_AGENT, makeRepo, type TestRepo } from './fixture.ts';
import { planYaml } from './plan.ts';

/** How the hostile milestone is made. */
export interface HostileSpec {
  readonly title: string;
  /** Shell run by item #1's agent (as `{ … ; }`): before its work, or after it (`after: true`). */
  readonly hostile: string;
  readonly after?: boolean;
  /** Items One (#1) and Two (#2), in two waves; with `single`, One alone. */
  readonly single?: boolean;
  /** More `defaults:` keys (`retries`, …). */
  readonly defaults?: Readonly<Record<string, unknown>>;
}

/** A repository with that milestone (7). */
export function hostileMilestone(spec: HostileSpec): Promise<TestRepo> {
  const step = `{ [ "$WM_ISSUE" != 1 ] || { ${spec.hostile}; }; }`;
  const agent = spec.after ? `${COMMITTING_AGENT} && ${step}` : `${step} && ${COMMITTING_AGENT}`;
  const [one, two] = [
    { issue: 1, title: 'One' },
    { issue: 2, title: 'Two' },
  ];
  const items = spec.single ? [one] : [one, two];
  const plan = planYaml({
    title: spec.title,
    waves: items.map((item) => ({ items: [item] })),
    defaults: { agent: 'command', command: agent, ...spec.defaults },
  });
  return makeRepo({ plan, items });
}

/**
 * The agent body (`writeAgent`) of items #1 and #2 at work at once, so that a write into the integration worktree
 * cannot be blamed on one of them (it is only flagged): #1 runs `hostile` once #2 has started, then `one`; #2 runs
 * `two` only once #1 has written. Both wait on files in the tools folder, never on time.
 */
export function overlappingPairBody(hostile: string, one: string, two: string): string {
  return `wait_for() { i=0; while [ ! -e "$tools/$1" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done; }
case "$WM_ROLE:$WM_ISSUE" in
item:1) wait_for two-started; ${hostile}; touch "$tools/one-wrote"
  ${one};;
item:2) touch "$tools/two-started"; wait_for one-wrote; ${two};;
*) exit 9;;
esac`;
}
