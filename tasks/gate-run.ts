/** Run one quality gate: `sh -c` in a worktree, its own process group, a timeout (124), output kept in a log. */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { killGroup } from './agents/process.ts';
import { childEnv } from './lib/child-env.ts';
import type { Gate } from './lib/plan-types.ts';
import type { GateResult } from './lib/state-types.ts';

/** Whether a gate applies to a change: gates with `files` run only when a changed path matches one of them. */
export function gateApplies(gate: Gate, changed: readonly string[]): boolean {
  if (gate.files.length === 0) return true;
  const match = picomatch([...gate.files], { dot: true });
  return changed.some((f) => match(f));
}

/** Run `gate` in `cwd`; the log goes to `logFile`. */
export async function runGate(gate: Gate, phase: GateResult['phase'], cwd: string, logFile: string, env: NodeJS.ProcessEnv): Promise<GateResult> {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  const child = spawn('sh', ['-c', gate.run], { cwd, env: childEnv(env), detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void killGroup(child.pid as number, 2000);
  }, gate.timeoutMs);
  const code = await new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    // Killed by a signal: the shell's convention, 128 + its number (SIGKILL → 137).
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)));
  });
  clearTimeout(timer);
  // A gate that forked children into its group must not leave them behind.
  await killGroup(child.pid as number, 500);
  return { name: gate.name, phase, exitCode: timedOut ? 124 : code, durationMs: Date.now() - started, log: logFile };
}

/** The last lines of a gate's log, for messages and fix prompts. */
export function gateOutputTail(result: GateResult, lines = 60): string {
  try {
    return readFileSync(result.log, 'utf8').split('\n').slice(-lines).join('\n').trim();
  } catch {
    return '';
  }
}

/** Run gates in order, stopping at the first red one. */
export async function runGates(
  gates: ReadonlyArray<{ readonly gate: Gate; readonly phase: GateResult['phase'] }>,
  cwd: string,
  logDir: string,
  env: NodeJS.ProcessEnv,
  onResult: (r: GateResult) => void = () => undefined,
): Promise<{ readonly green: boolean; readonly results: readonly GateResult[] }> {
  const results: GateResult[] = [];
  for (const [i, { gate, phase }] of gates.entries()) {
    const slug = gate.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
    const result = await runGate(gate, phase, cwd, path.join(logDir, `${i + 1}-${phase}-${slug}.log`), env);
    results.push(result);
    onResult(result);
    if (result.exitCode !== 0) return { green: false, results };
  }
  return { green: true, results };
}
