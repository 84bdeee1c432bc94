/** Agents on the local executor, started straight through it (no runner): a shell script each, waiting on files. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as assert from 'uvu/assert';
import { executorFor } from '../../tasks/executors/registry.ts';
import type { AgentHandle, AgentStatus } from '../../tasks/executors/types.ts';

/** The local executor. */
export const local = executorFor('local');

/** Shell: wait (bounded, 60 s) until `file` exists. */
export const hold = (file: string) =>
  `i=0; while [ ! -e '${file}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done;`;

/**
 * Dispatch the shell `script` as a command agent with its files under `<dir>/runs`, checking that the handle is
 * recorded while nothing of the agent exists yet.
 */
export async function dispatchScript(dir: string, name: string, script: string): Promise<AgentHandle> {
  let recorded: AgentHandle | null = null;
  const handle = await local.dispatch(
    {
      id: `7-1-conflict-${name}`,
      agent: 'command',
      launch: { file: 'sh', args: ['-c', script], env: {} },
      cwd: dir,
      env: { PATH: process.env.PATH ?? '' },
      dir: path.join(dir, 'runs'),
      name,
    },
    async (h) => {
      assert.not.ok(existsSync(path.join(dir, 'runs', `${name}.pid`)), 'recorded before the agent started');
      recorded = JSON.parse(JSON.stringify(h)) as AgentHandle;
    },
  );
  assert.equal(recorded, handle, 'the recorded handle is the returned one, and plain JSON');
  return handle;
}

/** Poll until the status is not running (bounded). */
export async function settled(handle: AgentHandle): Promise<AgentStatus> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await local.poll(handle);
    if (status.state !== 'running' && status.state !== 'queued') return status;
    if (Date.now() > deadline) throw new Error(`still ${status.state}`);
    await sleep(50);
  }
}
