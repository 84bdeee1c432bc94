/**
 * The import picture of tasks/ (docs/architecture.md): no file-level cycle, nothing in tasks/lib/ imports from
 * outside it, and each folder imports only its own layer or layers below it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from './support/fixture.ts';

const TASKS = path.join(ROOT, 'tasks');

/** Layers, lowest first: a folder may import its own layer's folders and lower ones, never a higher one. */
const LAYERS: readonly (readonly string[])[] = [
  ['lib'],
  ['agents', 'backlog', 'executors'],
  ['guards', 'gating', 'reporting', 'merging', 'items', 'landing'],
  ['engine', 'steps'],
  ['cli', 'demo'],
];

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Relative imports of a file (static, re-exports and dynamic); `typeOnly`: only `import type` statements. */
function importsOf(file: string, typeOnly: boolean): string[] {
  const src = readFileSync(file, 'utf8');
  const pattern =
    /(?:^(import|export)(\s+type)?\s[^;]*?\bfrom\s*|\bimport\s*\(\s*|^import\s+)(['"])(\.{1,2}\/[^'"]+)\3/gm;
  return [...src.matchAll(pattern)]
    .filter((m) => (m[2] !== undefined) === typeOnly)
    .map((m) => path.resolve(path.dirname(file), m[4] as string));
}

const files = listFiles(TASKS);
const inTasks = (targets: string[]) => targets.filter((t) => t.startsWith(TASKS + path.sep));
/** Imports that load code at run time. */
const edges = new Map(files.map((f) => [f, inTasks(importsOf(f, false))]));
/** Imports erased at run time: the shared contract types (the context, the step shape) that every layer may name. */
const typeEdges = new Map(files.map((f) => [f, inTasks(importsOf(f, true))]));
const folderOf = (file: string) => path.relative(TASKS, file).split(path.sep)[0] as string;
const layerOf = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

test('every folder of tasks/ has a layer and tasks/ has no file at its root', () => {
  for (const file of files) {
    const rel = path.relative(TASKS, file);
    assert.ok(rel.includes(path.sep), `${rel} sits at the root of tasks/`);
    assert.ok(layerOf(folderOf(file)) >= 0, `tasks/${folderOf(file)}/ is in no layer of this test`);
  }
});

test('no run-time import runs from a lower layer up; tasks/lib/ imports only tasks/lib/, types included', () => {
  const wrong: string[] = [];
  for (const [file, targets] of edges)
    for (const target of targets)
      if (layerOf(folderOf(target)) > layerOf(folderOf(file)))
        wrong.push(`${path.relative(TASKS, file)} → ${path.relative(TASKS, target)}`);
  for (const [file, targets] of typeEdges)
    if (folderOf(file) === 'lib')
      for (const target of targets)
        if (folderOf(target) !== 'lib') wrong.push(`${path.relative(TASKS, file)} → ${path.relative(TASKS, target)}`);
  assert.equal(wrong, []);
});

test('no import cycle between files', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(TASKS, f)).join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of [...(edges.get(file) ?? []), ...(typeEdges.get(file) ?? [])]) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  assert.equal(cycles, []);
});

test('the checker sees imports: a known edge and a dynamic import are found', () => {
  const main = path.join(TASKS, 'cli', 'main.ts');
  assert.ok((edges.get(main) ?? []).some((t) => t.endsWith(path.join('demo', 'run-demo.ts'))));
  assert.ok((edges.get(path.join(TASKS, 'steps', 'index.ts')) ?? []).includes(path.join(TASKS, 'steps', 'merge.ts')));
});

test.run();
