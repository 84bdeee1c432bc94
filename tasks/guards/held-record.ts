/**
 * A trusted record of the milestone (the config guard's, the dependency guard's): a file in the state folder, held
 * in memory by the command once read or made. An agent can remove or rewrite the file; the copy in memory is then
 * written again (a notice says so), never taken for "nothing trusted yet".
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Ctx } from '../engine/context.ts';
import { readJsonRecord, writeFileAtomic } from '../lib/atomic-file.ts';

/** Which record: a slot of `ctx.trusted`. */
export type HeldKey = 'config' | 'dependencies' | 'gatesDependencies';

/**
 * The record: what this command already holds (written again when the file no longer matches it), else the file's
 * when it has every field of `objectFields`, else null.
 */
export async function readHeldRecord<K extends HeldKey>(
  ctx: Ctx,
  key: K,
  file: string,
  objectFields: readonly string[],
): Promise<Ctx['trusted'][K] | null> {
  const held = ctx.trusted[key];
  const onDisk = await readJsonRecord<NonNullable<Ctx['trusted'][K]>>(file, objectFields);
  if (held && JSON.stringify(onDisk) !== JSON.stringify(held)) {
    ctx.events.emit({ type: 'notice', message: `${file} was changed or removed while the runner ran; wrote it again` });
    await writeHeldRecord(ctx, key, file, held);
  }
  if (held) return held;
  ctx.trusted[key] = onDisk;
  return onDisk;
}

/** Write the record (atomically) and hold it. */
export async function writeHeldRecord<K extends HeldKey>(
  ctx: Ctx,
  key: K,
  file: string,
  value: NonNullable<Ctx['trusted'][K]>,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  ctx.trusted[key] = value;
}
