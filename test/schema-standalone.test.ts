/**
 * The validators generated ahead of time from schema/*.schema.json (tasks/lib/schema-standalone.ts): in sync with
 * their schemas, judging as ajv compiling the schema does, and what a start uses instead of compiling.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadSchema, validatorOf } from '../tasks/lib/schema-check.ts';
import {
  AJV_OPTIONS,
  loadAjv,
  schemaUrl,
  STANDALONE_SCHEMAS,
  standaloneSource,
  standaloneUrl,
} from '../tasks/lib/schema-standalone.ts';
import { emptyItem, emptyState } from '../tasks/lib/state-types.ts';
import { cliEnv, ROOT, TSX } from './support/fixture.ts';

const require = createRequire(import.meta.url);

test('each generated validator is what its schema generates now (else: node --import tsx tasks/lib/schema-standalone.ts)', () => {
  for (const name of STANDALONE_SCHEMAS) {
    const committed = readFileSync(standaloneUrl(name), 'utf8');
    const fresh = standaloneSource(readFileSync(schemaUrl(name), 'utf8'));
    assert.ok(committed === fresh, `schema/validators for ${name} is stale: regenerate it`);
  }
});

test('a generated validator reports the errors ajv reports compiling the schema', () => {
  const text = readFileSync(schemaUrl('state.schema.json'), 'utf8');
  const compiled = new (loadAjv())(AJV_OPTIONS).compile(JSON.parse(text) as object);
  const generated = require(fileURLToPath(standaloneUrl('state.schema.json'))) as typeof compiled;
  const cases: unknown[] = [
    emptyState('7'),
    {},
    { ...emptyState('7'), seq: 'x', extra: 1 },
    { ...emptyState('7'), items: { 42: { ...emptyItem(42, 1), status: 'exploded', attempts: -1 } } },
  ];
  for (const data of cases) {
    assert.is(generated(data), compiled(data));
    assert.equal(generated.errors, compiled.errors);
  }
  assert.not.ok(generated({}));
  assert.ok((generated.errors?.length ?? 0) > 0);
});

test('a schema changed since its validator was generated is compiled: the stale validator is not used', () => {
  const text = readFileSync(schemaUrl('state.schema.json'), 'utf8');
  const state = { ...emptyState('7'), seq: 'x' };
  assert.not.ok(validatorOf('state.schema.json', text).validate(state));
  // The same schema with `seq` a string (and its own $id: one Ajv takes an $id once).
  const changed = JSON.parse(text) as { $id: string; properties: Record<string, unknown> };
  changed.$id = `${changed.$id}#changed`;
  changed.properties.seq = { type: 'string' };
  const { validate } = validatorOf('state.schema.json', JSON.stringify(changed));
  assert.ok(validate(state), JSON.stringify(validate.errors));
  assert.not.ok(validate(emptyState('7')));
});

test('loadSchema validates through the generated validator: ajv compiles nothing', () => {
  const validate = loadSchema('state.schema.json');
  assert.ok(validate(emptyState('7')));
  const script = [
    `import { loadSchema } from ${JSON.stringify(new URL('../tasks/lib/schema-check.ts', import.meta.url).href)};`,
    `import { createRequire } from 'node:module';`,
    `for (const n of ['dispatch-plan', 'backlog-item', 'state']) loadSchema(n + '.schema.json')({});`,
    `const loaded = Object.keys(createRequire(import.meta.url).cache);`,
    `console.log(JSON.stringify(loaded.filter((f) => /ajv[\\\\/]dist[\\\\/](core|compile)/.test(f)).length));`,
  ].join('\n');
  const out = spawnSync(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], {
    cwd: ROOT,
    env: cliEnv(),
    encoding: 'utf8',
  });
  assert.is(out.status, 0, out.stderr);
  assert.is(out.stdout.trim(), '0');
});

test.run();
