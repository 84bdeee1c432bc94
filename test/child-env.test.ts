/**
 * The environment of agents and gates: our tsx loader is taken out of every variable that becomes node options of
 * the user's programs (NODE_OPTIONS, npm's `node-options` as npm exports it), the user's own options stay; and, end to
 * end, a repository whose gate is `npm test` lands when the tool is started as users start it from this checkout.
 */
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { childEnv, stripTsxLoader } from '../tasks/lib/child-env.ts';
import { git, makeRepo, readStateFile, ROOT } from './support/fixture.ts';
import { planYaml } from './support/plan.ts';
import { collect } from './support/cli.ts';

const LOADER = `${ROOT}/node_modules/tsx/dist/loader.mjs`;

test('stripTsxLoader: every spelling of our loader goes, the rest stays in order', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['--import tsx', undefined],
    ['--import=tsx', undefined],
    ['--import "tsx"', undefined],
    ['--import tsx/esm', undefined],
    ['--loader tsx', undefined],
    ['--loader=tsx', undefined],
    ['--experimental-loader tsx', undefined],
    ['--require tsx/cjs', undefined],
    ['-r tsx/cjs', undefined],
    ['--require=tsx/cjs', undefined],
    [`--import ${LOADER}`, undefined],
    [`--import=file://${LOADER}`, undefined],
    [`--require ${ROOT}/node_modules/tsx/dist/preflight.cjs --import file://${LOADER}`, undefined],
    ['--import /home/u/.pnpm/node_modules/.pnpm/tsx@4.1.0/node_modules/tsx/dist/esm/index.mjs', undefined],
    ['--max-old-space-size=4096 --import tsx --enable-source-maps', '--max-old-space-size=4096 --enable-source-maps'],
    ['--import tsx   --import ./my-hooks.mjs', '--import ./my-hooks.mjs'],
    ['--require ./setup.cjs --import=tsx', '--require ./setup.cjs'],
    ['--import tsxyz', '--import tsxyz'],
    ['--import ./lib/tsx-helpers.mjs', '--import ./lib/tsx-helpers.mjs'],
    ['--title "my tsx app" --import tsx', '--title "my tsx app"'],
    ['--inspect', '--inspect'],
    // A flag whose value is missing is kept as written.
    ['--import', '--import'],
  ];
  for (const [input, expected] of cases) assert.is(stripTsxLoader(input), expected, JSON.stringify(input));
});

test('childEnv: NODE_OPTIONS and npm_config_node_options in any case lose the loader; other variables are untouched', () => {
  const env = childEnv(
    {
      PATH: '/usr/bin',
      NODE_OPTIONS: '--import tsx',
      npm_config_node_options: '--import tsx',
      NPM_CONFIG_NODE_OPTIONS: '--import=tsx --max-old-space-size=512',
      'npm_config_node-options': `--import file://${LOADER}`,
      Node_Options: '--enable-source-maps --loader tsx',
      npm_config_nodedir: '/usr',
      MY_OPTIONS: '--import tsx',
    },
    { WM_ISSUE: '3' },
  );
  assert.equal(env, {
    PATH: '/usr/bin',
    NPM_CONFIG_NODE_OPTIONS: '--max-old-space-size=512',
    Node_Options: '--enable-source-maps',
    npm_config_nodedir: '/usr',
    MY_OPTIONS: '--import tsx',
    WM_ISSUE: '3',
    WORK_MILESTONE_CHILD: '1',
  });
});

/** The environment of a user's shell: no node options, no npm variables, no agent marker. */
function userShellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', CI: '1' };
  for (const name of Object.keys(env)) if (/^(npm_|node_options$|work_milestone_child$)/i.test(name)) delete env[name];
  return env;
}

test('`npx zx scripts/run.mts` from this checkout (its .npmrc adds --import tsx): a gate running `npm test` in the user repository is green and the milestone lands', async () => {
  const plan = planYaml({
    title: 'npm gate',
    waves: [{ items: [{ issue: 1, title: 'Alpha', extra: { edits: [{ path: 'alpha.txt', content: 'alpha\n' }] } }] }],
    gates: { 'post-merge': ['npm test'] },
    defaults: { agent: 'scripted', retries: 0, timeout: '60s', 'max-fix-attempts': 1 },
  });
  const repo = await makeRepo({
    plan,
    items: [{ issue: 1, title: 'Alpha' }],
    files: {
      'package.json': `${JSON.stringify({ name: 'user-project', private: true, scripts: { test: 'node -e "process.exit(0)"' } }, null, 2)}\n`,
    },
  });
  try {
    const child = spawn(
      'npx',
      ['zx', 'scripts/run.mts', '7', '--repo', repo.dir, '--agent', 'scripted', '--yes', '--no-push'],
      {
        cwd: ROOT,
        env: userShellEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const { code, stdout, stderr } = await collect(child, 150_000);
    const output = `${stdout}\n${stderr}`;
    const state = readStateFile(repo);
    const gates = state.gates?.results ?? [];
    assert.is(code, 0, `exit ${code}\n${output}`);
    assert.equal(
      gates.map((g: { name: string; exitCode: number }) => [g.name, g.exitCode]),
      [['npm test', 0]],
      JSON.stringify(gates),
    );
    assert.is(await git(repo.dir, 'show', 'main:alpha.txt'), 'alpha');
    assert.is(await git(repo.dir, 'log', '-1', '--format=%s', 'main'), 'Merge milestone 7: npm gate');
  } finally {
    repo.cleanup();
  }
});

test.run();
