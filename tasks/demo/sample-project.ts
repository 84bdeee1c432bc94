/** The demo's sample project: a tiny calculator library with tests, a file backlog of 4 items and a 2-wave plan. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScriptedEdit } from '../lib/plan/types.ts';

/** A demo item: its backlog text and the edits that do it. */
export interface DemoItem {
  readonly issue: number;
  readonly title: string;
  readonly wave: 1 | 2;
  readonly dependsOn: readonly number[];
  readonly description: string;
  readonly criteria: string;
  readonly edits: readonly ScriptedEdit[];
}

const changelog = (line: string): ScriptedEdit => ({ path: 'CHANGELOG.md', append: `- ${line}\n` });

/**
 * The four items. #1 and #2 both add a CHANGELOG line at the same place: a trivial conflict, resolved without an agent.
 */
export const DEMO_ITEMS: readonly DemoItem[] = [
  {
    issue: 1,
    title: 'Multiply',
    wave: 1,
    dependsOn: [],
    description: 'Add `multiply(a, b)` in src/multiply.js, with a test.',
    criteria: '- `multiply(6, 7)` is 42\n- `node --test` passes',
    edits: [
      { path: 'src/multiply.js', content: 'export function multiply(a, b) {\n  return a * b;\n}\n' },
      {
        path: 'test/multiply.test.js',
        content:
          "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { multiply } from '../src/multiply.js';\n\ntest('multiply', () => assert.equal(multiply(6, 7), 42));\n",
      },
      changelog('multiply(a, b)'),
    ],
  },
  {
    issue: 2,
    title: 'Command-line interface',
    wave: 1,
    dependsOn: [],
    description: 'Add src/cli.js: `node src/cli.js add 2 3` prints 5.',
    criteria: '- add and sub work from the command line\n- `node --test` passes',
    edits: [
      {
        path: 'src/cli.js',
        content:
          "import { add, sub } from './calc.js';\n\nconst [op, a, b] = process.argv.slice(2);\nconst ops = { add, sub };\nif (!ops[op]) {\n  console.error('usage: cli.js add|sub A B');\n  process.exit(2);\n}\nconsole.log(ops[op](Number(a), Number(b)));\n",
      },
      {
        path: 'test/cli.test.js',
        content:
          "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { execFileSync } from 'node:child_process';\n\ntest('cli add', () => assert.equal(execFileSync('node', ['src/cli.js', 'add', '2', '3'], { encoding: 'utf8' }).trim(), '5'));\n",
      },
      changelog('a command-line interface'),
    ],
  },
  {
    issue: 3,
    title: 'Divide, with a zero check',
    wave: 2,
    dependsOn: [1],
    description: 'Add `divide(a, b)` in src/divide.js; dividing by zero throws a RangeError.',
    criteria: '- `divide(42, 6)` is 7\n- `divide(1, 0)` throws RangeError',
    edits: [
      {
        path: 'src/divide.js',
        content:
          "export function divide(a, b) {\n  if (b === 0) throw new RangeError('division by zero');\n  return a / b;\n}\n",
      },
      {
        path: 'test/divide.test.js',
        content:
          "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { divide } from '../src/divide.js';\n\ntest('divide', () => assert.equal(divide(42, 6), 7));\ntest('divide by zero', () => assert.throws(() => divide(1, 0), RangeError));\n",
      },
    ],
  },
  {
    issue: 4,
    title: 'Document the API',
    wave: 2,
    dependsOn: [],
    description: 'Describe every function and the CLI in README.md.',
    criteria: '- README has an API section',
    edits: [
      {
        path: 'README.md',
        append:
          '\n## API\n\n- `add(a, b)`, `sub(a, b)`: src/calc.js\n- `multiply(a, b)`: src/multiply.js\n- `divide(a, b)`: src/divide.js, throws on zero\n- `node src/cli.js add 2 3`\n',
      },
    ],
  },
];

const FILES: Readonly<Record<string, string>> = {
  'package.json':
    '{\n  "name": "demo-calc",\n  "version": "1.0.0",\n  "type": "module",\n  "scripts": { "test": "node --test" }\n}\n',
  'README.md': '# demo-calc\n\nA tiny calculator, grown by a work-milestone demo.\n',
  'CHANGELOG.md': '# Changelog\n\n## Unreleased\n\n',
  'src/calc.js': 'export function add(a, b) {\n  return a + b;\n}\n\nexport function sub(a, b) {\n  return a - b;\n}\n',
  'test/calc.test.js':
    "import test from 'node:test';\nimport assert from 'node:assert/strict';\nimport { add, sub } from '../src/calc.js';\n\ntest('add', () => assert.equal(add(2, 3), 5));\ntest('sub', () => assert.equal(sub(5, 3), 2));\n",
  '.gitignore': 'node_modules/\n',
};

function planYaml(agent: string): string {
  const items = (wave: number) =>
    DEMO_ITEMS.filter((i) => i.wave === wave)
      .map(
        (i) =>
          `      - issue: ${i.issue}\n        title: ${JSON.stringify(i.title)}\n        depends-on: [${i.dependsOn.join(', ')}]\n        edits: ${JSON.stringify(i.edits)}`,
      )
      .join('\n');
  return `# yaml-language-server: $schema=../node_modules/work-milestone/schema/dispatch-plan.schema.json
milestone:
  number: 1
  title: "Calculator v1.1"
groomed: true
waves:
  - wave: 1
    parallel: true
    items:
${items(1)}
  - wave: 2
    parallel: true
    items:
${items(2)}
quality-gates:
  pre-merge:
    - {name: syntax, run: "for f in src/*.js; do node --check \\"$f\\" || exit 1; done", files: ["src/**"]}
  post-merge: ["node --test"]
defaults:
  agent: ${agent}
  model: sonnet
  permission-mode: default
  allowed-tools: [Bash, Edit, Write, Read]
  timeout: 5m
  retries: 1
  concurrency: 2
`;
}

/** Write the sample project into `dir` as a git repository with one commit on main. */
export function createSampleProject(dir: string, agent: string): void {
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  for (const [file, text] of Object.entries(FILES)) write(file, text);
  for (const item of DEMO_ITEMS) {
    write(
      `plan/backlog/${item.issue}.md`,
      `---\nissue: ${item.issue}\ntitle: ${JSON.stringify(item.title)}\nstatus: open\nmilestone: 1\npriority: P1\ngroomed: true\nlabels: []\ndepends-on: [${item.dependsOn.join(', ')}]\n---\n## Description\n${item.description}\n\n## Acceptance Criteria\n${item.criteria}\n`,
    );
  }
  write('plan/milestone-1-dispatch.yaml', planYaml(agent));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'demo@work-milestone.invalid');
  git('config', 'user.name', 'work-milestone demo');
  git('config', 'commit.gpgsign', 'false');
  git('add', '-A');
  git('commit', '-q', '-m', 'demo-calc: initial version');
}
