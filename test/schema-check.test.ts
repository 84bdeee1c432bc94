/**
 * tasks/lib/schema-check.ts, the one schema module: schemas compiled on first use and once, and ajv errors turned into
 * the same one-sentence diagnostics for the plan, backlog front matter and state files.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseItemFile } from '../tasks/backlog/front-matter.ts';
import { loadSchema, schemaProblem, type SchemaName } from '../tasks/lib/schema-check.ts';
import { emptyItem, emptyState } from '../tasks/lib/state-types.ts';

test('a schema is read and compiled on the first validation, not when its validator is made', () => {
  const missing = loadSchema('no-such.schema.json' as SchemaName);
  assert.throws(() => missing({}), /ENOENT/);
});

test('validators of one schema share one compilation (a schema with an $id can be added to ajv once)', () => {
  const a = loadSchema('state.schema.json');
  const b = loadSchema('state.schema.json');
  assert.ok(a(emptyState('7')));
  assert.ok(b(emptyState('7')));
  assert.not.ok(b({}));
  assert.is(b.errors?.[0]?.keyword, 'required');
  assert.is(a.schema, b.schema);
});

test('schemaProblem: one sentence naming the path, in the words plan diagnostics use', () => {
  const validate = loadSchema('state.schema.json');
  const state = { ...emptyState('7'), items: { 42: { ...emptyItem(42, 1), status: 'exploded' } } };
  assert.is(
    schemaProblem(validate, state, 'state'),
    'items[42].status must be one of: pending, in-progress, complete, partial, failed, skipped, escalated, ejected',
  );
  assert.is(schemaProblem(validate, { ...emptyState('7'), seq: 'x' }, 'state'), 'seq must be integer');
  assert.is(schemaProblem(validate, { ...emptyState('7'), extra: 1 }, 'state'), 'unknown key "extra" in state');
  assert.is(schemaProblem(validate, emptyState('7'), 'state'), undefined);
});

test('backlog front matter: a bad title says what titles accept, at the title (line counted from the file top)', () => {
  const parsed = parseItemFile(`---\nissue: 4\ntitle: "${'x'.repeat(201)}"\nstatus: open\n---\n`, 4);
  assert.equal(parsed, {
    ok: false,
    problems: [{ message: 'title is 201 characters long; a title may have at most 200', line: 3, col: 8 }],
  });
});

test.run();
