/**
 * The `scripted` agent's program: a deterministic agent for the demo and fast tests.
 * item: applies the item's `edits`, commits them, prints a report. conflict: resolves conflict
 * markers by keeping both sides (ours first). fix: cannot fix anything and says so.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ScriptedEdit } from '../lib/plan/types.ts';

interface Spec {
  readonly role: 'item' | 'conflict' | 'fix';
  readonly issue: number;
  readonly title: string;
  readonly branch: string;
  readonly edits: readonly ScriptedEdit[];
}

const spec = JSON.parse(
  process.env.WM_SCRIPTED_FILE ? readFileSync(process.env.WM_SCRIPTED_FILE, 'utf8') : '{}',
) as Spec;
const cwd = process.cwd();
const gitOut = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

function inside(p: string): string {
  const abs = path.resolve(cwd, p);
  if (abs !== cwd && !abs.startsWith(cwd + path.sep)) throw new Error(`edit path ${p} leaves the worktree`);
  return abs;
}

function applyEdit(edit: ScriptedEdit): void {
  const file = inside(edit.path);
  mkdirSync(path.dirname(file), { recursive: true });
  if (edit.content !== undefined) writeFileSync(file, edit.content);
  if (edit.append !== undefined) appendFileSync(file, edit.append);
  if (edit.replace !== undefined) {
    const text = readFileSync(file, 'utf8');
    if (!text.includes(edit.replace)) throw new Error(`${edit.path} does not contain ${JSON.stringify(edit.replace)}`);
    writeFileSync(file, text.replace(edit.replace, edit.with ?? ''));
  }
}

/** Keep both sides of every conflict block, ours first. */
function unionResolve(text: string): string {
  return text.replace(
    /^<<<<<<< [^\n]*\n([\s\S]*?)^(?:\|\|\|\|\|\|\| [^\n]*\n[\s\S]*?)?^=======\n([\s\S]*?)^>>>>>>> [^\n]*\n/gm,
    '$1$2',
  );
}

function main(): void {
  if (spec.role === 'fix') {
    process.stdout.write('STATUS: FAILED\nNOTES: the scripted agent cannot fix failing gates\n');
    return;
  }
  if (spec.role === 'conflict') {
    const files = gitOut('diff', '--name-only', '--diff-filter=U').split('\n').filter(Boolean);
    for (const f of files) writeFileSync(inside(f), unionResolve(readFileSync(inside(f), 'utf8')));
    process.stdout.write(`STATUS: COMPLETE\nFILES_CHANGED:\n${files.join('\n')}\nNOTES: kept both sides\n`);
    return;
  }
  for (const edit of spec.edits) applyEdit(edit);
  gitOut('add', '-A');
  gitOut('commit', '-q', '-m', `#${spec.issue}: ${spec.title}`.slice(0, 200));
  const commit = gitOut('log', '-1', '--format=%h %s');
  const files = gitOut('show', '--name-only', '--format=', 'HEAD');
  process.stdout.write(
    `STATUS: COMPLETE\nBRANCH: ${spec.branch}\nFILES_CHANGED:\n${files}\nCOMMITS:\n${commit}\nNOTES: applied ${spec.edits.length} scripted edit(s)\n`,
  );
}

try {
  main();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.stdout.write(`STATUS: FAILED\nNOTES: ${(error as Error).message.split('\n')[0]}\n`);
  process.exitCode = 1;
}
