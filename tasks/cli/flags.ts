/** Parse the command-line flags (README) into typed options; bad flags are bad input (exit 2). */
import { DEFAULT_OPTIONS, type RunOptions } from '../engine/context.ts';
import { didYouMean } from '../lib/did-you-mean.ts';
import { BadInputError } from '../lib/errors.ts';
import type { AgentKind, ExecutorSettings, LandMode, Schedule } from '../lib/plan/types.ts';
import minimist from 'minimist';

/** Parsed command line. */
export interface Flags {
  readonly positional: readonly string[];
  readonly repo: string | null;
  readonly plan: string | null;
  readonly json: boolean;
  readonly mermaid: boolean;
  readonly dryRun: boolean;
  readonly help: boolean;
  /** `run --stop`: stop the milestone's live agents and exit. */
  readonly stop: boolean;
  /** `gates` only: what the gates judge, and the git hook. */
  readonly gates: GatesFlags;
  /** `--version`: print the package's version and exit. */
  readonly version: boolean;
  /** `status --watch`: show it again as it changes, until Ctrl-C. */
  readonly watch: boolean;
  readonly options: RunOptions;
}

/** Flags of `gates`: `--all-files`, `--from-ref A --to-ref B` (default: the staged change), `--[un]install-hook`. */
export interface GatesFlags {
  readonly allFiles: boolean;
  readonly fromRef: string | null;
  readonly toRef: string | null;
  readonly installHook: boolean;
  readonly uninstallHook: boolean;
}

/** Flags of `gates` alone. */
const GATES_BOOLEANS = ['all-files', 'install-hook', 'uninstall-hook'];
const GATES_STRINGS = ['from-ref', 'to-ref'];
const BOOLEANS = [
  'yes',
  'push',
  'dry-run',
  'json',
  'mermaid',
  'help',
  'fail-fast',
  'adopt',
  'stop',
  'version',
  'watch',
  ...GATES_BOOLEANS,
];
const STRINGS = [
  'repo',
  'plan',
  'agent',
  'agent-command',
  'concurrency',
  'wave',
  'item',
  'schedule',
  'land',
  'executor',
  ...GATES_STRINGS,
];
const AGENTS: readonly AgentKind[] = ['claude', 'codex', 'command', 'scripted'];
const SCHEDULES: readonly Schedule[] = ['waves', 'dag'];
const LANDS: readonly LandMode[] = ['direct', 'pull-request'];
type ExecutorKindFlag = ExecutorSettings['kind'];
const EXECUTORS: readonly ExecutorKindFlag[] = ['local', 'github-actions', 'kubernetes'];

/** Every flag name, for completion (`--no-push` included). */
export function flagNames(): string[] {
  return [...BOOLEANS, ...STRINGS, 'no-push'].filter((f) => f !== 'push').map((f) => `--${f}`);
}

/** Flags that take a value. */
export const VALUE_FLAGS: readonly string[] = STRINGS;

function positiveInt(name: string, value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  if (!/^[1-9]\d{0,15}$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new BadInputError(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** `unknown flag --concurency; did you mean --concurrency?` (or `; see --help` when no flag is close). */
function unknownFlag(arg: string, allowed: readonly string[]): BadInputError {
  const name = arg.split('=')[0] as string;
  const known = [...allowed, ...(allowed.includes('push') ? ['no-push'] : [])].map((k) => `--${k}`);
  return new BadInputError(`unknown flag ${arg}${didYouMean(name, known, (w) => w) || '; see --help'}`);
}

/** Parse `args` (everything after the script name). */
export function parseFlags(args: readonly string[], allowed: readonly string[] = [...BOOLEANS, ...STRINGS]): Flags {
  const unknown: string[] = [];
  // minimist looks flag names up in plain objects: a name Object.prototype has (`--constructor`) makes it throw.
  const inherited = args.find((a) => a.startsWith('-') && (a.replace(/^-+(no-)?/, '').split('=')[0] as string) in {});
  if (inherited !== undefined) throw unknownFlag(inherited.split('=')[0] as string, allowed);
  const parsed = minimist([...args], {
    boolean: BOOLEANS,
    string: [...STRINGS, '_'],
    default: { push: true },
    alias: { h: 'help', y: 'yes' },
    unknown: (arg: string) => {
      if (arg.startsWith('-')) unknown.push(arg);
      return !arg.startsWith('-');
    },
  });
  const bad = unknown.concat(
    Object.keys(parsed)
      .filter((k) => k !== '_' && k !== 'h' && k !== 'y' && !allowed.includes(k))
      .map((k) => `--${k}`),
  );
  if (bad[0] !== undefined) throw unknownFlag(bad[0], allowed);
  for (const k of STRINGS) {
    // minimist turns a value-less `--repo` (last, or before another flag) into '' and a repeated one into a list.
    if (parsed[k] === '') throw new BadInputError(`--${k} needs a value; see --help`);
    if (Array.isArray(parsed[k])) throw new BadInputError(`--${k} is given more than once`);
  }
  const str = (k: string) => (typeof parsed[k] === 'string' && parsed[k] !== '' ? (parsed[k] as string) : null);
  // A flag that takes one of a few words.
  const oneOf = <T extends string>(k: string, allowed: readonly T[]): T | null => {
    const value = str(k);
    if (value !== null && !(allowed as readonly string[]).includes(value))
      throw new BadInputError(`--${k} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T | null;
  };
  return {
    positional: parsed._.map(String),
    repo: str('repo'),
    plan: str('plan'),
    json: parsed.json === true,
    mermaid: parsed.mermaid === true,
    dryRun: parsed['dry-run'] === true,
    help: parsed.help === true,
    stop: parsed.stop === true,
    gates: {
      allFiles: parsed['all-files'] === true,
      fromRef: str('from-ref'),
      toRef: str('to-ref'),
      installHook: parsed['install-hook'] === true,
      uninstallHook: parsed['uninstall-hook'] === true,
    },
    version: parsed.version === true,
    watch: parsed.watch === true,
    options: {
      ...DEFAULT_OPTIONS,
      yes: parsed.yes === true,
      push: parsed.push !== false,
      agent: oneOf('agent', AGENTS),
      agentCommand: str('agent-command'),
      concurrency: positiveInt('concurrency', str('concurrency') ?? undefined),
      failFast: parsed['fail-fast'] === true,
      adopt: parsed.adopt === true,
      wave: positiveInt('wave', str('wave') ?? undefined),
      item: positiveInt('item', str('item') ?? undefined),
      schedule: oneOf('schedule', SCHEDULES),
      land: oneOf('land', LANDS),
      executor: oneOf('executor', EXECUTORS),
    },
  };
}
