/**
 * tasks/cli/minimist.ts reads every command line as minimist 1.2.8 (zx's copy, which the flags were parsed with
 * before) does with the options of tasks/cli/flags.ts: the same values and the same arguments reported unknown. One
 * difference: a flag named like a property of every object (`--constructor`) threw a TypeError there (an internal
 * error); here it is an unknown flag.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { minimist as zxMinimist } from 'zx';
import { minimist } from '../tasks/cli/minimist.ts';

const BOOLEANS = ['yes', 'push', 'dry-run', 'json', 'mermaid', 'help', 'fail-fast', 'adopt', 'stop'];
const STRINGS = ['repo', 'plan', 'agent', 'agent-command', 'concurrency', 'wave', 'item', 'schedule', '_'];

function both(args: readonly string[]): { ours: unknown; theirs: unknown } {
  const run = (parse: (args: string[], opts: never) => unknown): unknown => {
    const unknown: string[] = [];
    const parsed = parse([...args], {
      boolean: BOOLEANS,
      string: STRINGS,
      default: { push: true },
      alias: { h: 'help', y: 'yes' },
      unknown: (arg: string) => {
        unknown.push(arg);
        return !arg.startsWith('-');
      },
    } as never);
    return { parsed, unknown };
  };
  let theirs: unknown;
  try {
    theirs = run(zxMinimist as never);
  } catch (error) {
    theirs = error;
  }
  return { ours: run(minimist as never), theirs };
}

/** Ours where minimist threw: the flags it threw on are reported unknown, so flags.ts refuses them (exit 2). */
function checkPair(args: readonly string[]): void {
  const { ours, theirs } = both(args);
  const label = JSON.stringify(args);
  if (!(theirs instanceof TypeError)) return assert.equal(ours, theirs, label);
  const reported = (ours as { unknown: string[] }).unknown;
  assert.ok(
    args.some((a) => PROTO.some((p) => a.startsWith(`--${p}`) || a.startsWith(`--no-${p}`)) && reported.includes(a)),
    label,
  );
}

const TOKENS = [
  '7',
  '0x1f',
  '-3',
  'merge',
  '--repo',
  '--repo=',
  '--repo=/tmp/x',
  '--plan',
  'p.yaml',
  '--json',
  '--json=false',
  '--json=true',
  'true',
  'false',
  '--no-push',
  '--push',
  '--no-json',
  '--no-repo',
  '-h',
  '-y',
  '-hy',
  '-yh',
  '-x',
  '-h5',
  '-y=1',
  '-h-',
  '-',
  '--',
  '--wave',
  '2',
  '--wave=2',
  '--concurrency',
  '--item=1e3',
  '--agent',
  'command',
  '--schedule=dag',
  '--dry-run',
  '--fail-fast',
  '--adopt',
  '--stop',
  '--mermaid',
  '--help',
  '--unknown',
  '--unknown=1',
  '--a.b=1',
  '--__proto__=x',
  '--constructor',
  '-a.b',
  '--yes',
  '--h',
  '--toString',
  '--no-constructor',
  '--hasOwnProperty=1',
];
const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];

test('the options of flags.ts: every pair and triple of these arguments reads as minimist reads it', () => {
  const cases: string[][] = [[]];
  for (const a of TOKENS) {
    cases.push([a]);
    for (const b of TOKENS) {
      cases.push([a, b]);
      for (const c of ['7', '--repo', '-h', '--', 'true', '--json']) cases.push([a, b, c]);
    }
  }
  for (const args of cases) checkPair(args);
});

test('minimist threw on a flag named like a property of every object; it is an unknown flag here', () => {
  assert.ok(both(['7', '--constructor']).theirs instanceof TypeError);
  assert.equal((both(['7', '--constructor']).ours as { unknown: string[] }).unknown, ['7', '--constructor']);
});

test('longer command lines from a fixed pseudo-random sequence', () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let n = 0; n < 3000; n++) {
    const args = Array.from({ length: 1 + (next() % 7) }, () => TOKENS[next() % TOKENS.length] as string);
    checkPair(args);
  }
});

test.run();
