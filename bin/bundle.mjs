// The bundle: `tasks/` compiled by esbuild into `dist/` (ESM, code-split per command, packages left in
// node_modules), so that a command starts without TypeScript being compiled on the fly (docs/performance.md,
// "Startup"). It is used only while it is fresh: `dist/inputs.json` records each source file it was built from
// (size, mtime, sha256), and a start whose sources changed since runs them through tsx instead. Plain JavaScript:
// the bin reads it before any TypeScript can be loaded.
//
// Build: `npm run build` (also run by `npm ci`/`npm install` through `prepare`, by `npm pack`, and by the test runner).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The package's root folder. */
export const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
/** What the bundle holds: the CLI and the scripted agent (a process of its own). */
const ENTRIES = ['tasks/cli/main.ts', 'tasks/agents/scripted-agent.ts'];
const DIST = 'dist';
const INPUTS = 'inputs.json';

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * Whether every source the bundle was built from is unchanged: same size and mtime, or (a fresh checkout or an
 * installed package, where mtimes differ) the same content.
 */
function isFresh(root) {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(path.join(root, DIST, INPUTS), 'utf8'));
  } catch {
    return false;
  }
  for (const [file, recorded] of Object.entries(inputs.files ?? {})) {
    const abs = path.join(root, file);
    let st;
    try {
      st = statSync(abs);
    } catch {
      return false;
    }
    if (st.size !== recorded.size) return false;
    if (st.mtimeMs !== recorded.mtimeMs && sha256(abs) !== recorded.sha256) return false;
  }
  // A source file added since (a new module the old bundle cannot know) shows as a changed importer above.
  return Object.keys(inputs.files ?? {}).length > 0;
}

/** The bundled CLI module's URL when the bundle is fresh, else null (run the sources through tsx). */
export function freshBundle(root = ROOT) {
  if (process.env.WORK_MILESTONE_NO_BUNDLE === '1' || !isFresh(root)) return null;
  return pathToFileURL(path.join(root, DIST, 'main.js')).href;
}

/** The CLI module (`tasks/cli/main.ts`): the bundle's when it is fresh, else the sources' through tsx. */
export async function loadCli(root = ROOT) {
  const bundle = freshBundle(root);
  if (bundle) return import(bundle);
  // Node 20 cannot load TypeScript by itself: tsx's ESM hooks, registered before the sources are imported.
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(path.join(root, 'tasks', 'cli', 'main.ts')).href);
}

/** Build `dist/` from the sources; returns the number of source files. Atomic: readers see the old or the new. */
export async function buildBundle(root = ROOT) {
  const { build } = await import('esbuild');
  const tmp = path.join(root, `${DIST}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    entryNames: '[name]',
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const files = {};
  for (const file of Object.keys(result.metafile.inputs).sort()) {
    const abs = path.join(root, file);
    const st = statSync(abs);
    files[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: sha256(abs) };
  }
  writeFileSync(path.join(tmp, INPUTS), `${JSON.stringify({ files }, null, 1)}\n`);
  const dist = path.join(root, DIST);
  const old = `${dist}.old-${process.pid}`;
  if (existsSync(dist)) renameSync(dist, old);
  try {
    renameSync(tmp, dist);
  } catch (error) {
    // Another build put its dist/ there meanwhile: built from the same sources, it is as good as this one.
    if (!existsSync(dist)) throw error;
    rmSync(tmp, { recursive: true, force: true });
  }
  rmSync(old, { recursive: true, force: true });
  return Object.keys(files).length;
}

/** `node bin/bundle.mjs`: build when stale (`--force`: always); one line saying which. */
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  if (!process.argv.includes('--force') && isFresh(ROOT)) {
    console.log('dist/ is up to date');
  } else {
    const count = await buildBundle(ROOT);
    console.log(`dist/ built from ${count} source files`);
  }
}
