/**
 * Where this package lives, for the files it reads at run time (package.json, schemas, the scripted agent, the bin).
 * Found by walking up from this module to the first folder with a package.json, so the answer is the same whether
 * the code runs from its TypeScript sources (`tasks/lib/`) or from the bundle (`dist/`, docs/performance.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`internal: no package.json above ${from}`);
  }
}

/** The package's root folder (where package.json, schema/, bin/ and tasks/ are). */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/**
 * Whether this code runs from the bundle in dist/ (built from these sources, docs/performance.md) rather than from
 * the TypeScript sources through tsx: what a child process of ours (the scripted agent) is started from then.
 */
export const RUNS_BUNDLED = !fileURLToPath(import.meta.url).endsWith('.ts');

/** A path inside the package. */
export function packagePath(...parts: readonly string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}

/** The package's version (package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}
