/**
 * Every end is explicit (docs/errors.md): a reader that goes away (`| head -1`, a real shell pipe) ends `run --json`,
 * `plan --json` and `run --dry-run` without a stack trace, and the run releases its lock (the next run takes no stale
 * one); `--dry-run` is read-only (no state folder created, not one byte of an existing one changed, an unusable
 * state.json shown healed but not written) and honours `--json`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  cliEnv,
  COMMITTING_AGENT,
  makeRepo,
  readEvents,
  ROOT,
  runCli,
  tempDir,
  type TestRepo,
} from './support/fixture.ts';
import { rigItems, rigPlan, run, show, waitFor } from './support/wave-rig.ts';
import { assertLanded, makeRig, startRunner, type Rig } from './support/converge-rig.ts';

const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** What one side of `<script> args | head -1` did: head's output, the script's exit code and stderr. */
interface Piped {
  readonly head: string;
  readonly code: number;
  readonly stderr: string;
}

/** `sh -c '{ node <script> args 2>err; echo $? >code; } | head -1'` in `cwd`. */
function piped(
  script: string,
  args: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): Promise<Piped> {
  const dir = tempDir('wm-pipe-');
  const err = path.join(dir, 'stderr');
  const codeFile = path.join(dir, 'code');
  const shell = '{ "$NODE" --import "$TSX" "$SCRIPT" "$@" 2>"$ERR"; echo $? >"$CODE"; } | head -1';
  const child = spawn('sh', ['-c', shell, 'sh', ...args], {
    cwd,
    env: {
      ...cliEnv(env),
      NODE: process.execPath,
      TSX,
      SCRIPT: path.join(ROOT, 'scripts', `${script}.mts`),
      ERR: err,
      CODE: codeFile,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let head = '';
  child.stdout.on('data', (d: Buffer) => (head += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.on('close', () => {
      clearTimeout(timer);
      const result = { head, code: Number(readFileSync(codeFile, 'utf8').trim()), stderr: readFileSync(err, 'utf8') };
      rmSync(dir, { recursive: true, force: true });
      resolve(result);
    }),
  );
}

function assertNoStack(r: Piped, what: string): void {
  assert.not.match(r.stderr, /^\s+at /m, `${what}: a stack trace\n${r.stderr}`);
  assert.not.match(r.stderr, /write EPIPE|internal error/, `${what}: ${r.stderr}`);
}

/** sha256 of every file under `dir` (path → hash), and the folders: what "byte-identical" means. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const file = path.join(d, name);
      const rel = path.relative(dir, file);
      if (statSync(file).isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(file);
      } else out[rel] = createHash('sha256').update(readFileSync(file)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** A milestone of `n` items, so that what plan and dry-run print is more than a pipe holds (64 KiB). */
async function bigRepo(n: number): Promise<TestRepo> {
  const waves = [Array.from({ length: n }, (_, i) => ({ issue: i + 1, title: `Item ${i + 1}` }))];
  return makeRepo({ plan: rigPlan(waves, { command: 'true' }), items: rigItems(waves) });
}

test('plan --json | head -1 and run --dry-run | head -1 (output beyond what a pipe holds): no stack trace, exit 0, nothing created', async () => {
  const repo = await bigRepo(2500);
  try {
    // Unpiped, plan --json prints all of it (a pipe used to get 64 KiB of it) and the dry-run is more than a pipe
    // holds.
    const whole = await runCli('plan', ['7', '--json'], { cwd: repo.dir });
    assert.is(whole.code, 0, whole.stderr);
    assert.is((JSON.parse(whole.stdout) as { nodes: unknown[] }).nodes.length > 2500, true);
    const plan = await piped('plan', ['7', '--json'], repo.dir);
    assertNoStack(plan, 'plan --json | head -1');
    assert.is(plan.code, 0, plan.stderr);
    assert.is(plan.head, '{\n');
    const dry = await piped('run', ['7', '--dry-run'], repo.dir);
    assertNoStack(dry, 'run --dry-run | head -1');
    assert.is(dry.code, 0, dry.stderr);
    assert.is(dry.head, 'validate: todo (plan not validated yet)\n');
    const json = await piped('run', ['7', '--dry-run', '--json'], repo.dir);
    assertNoStack(json, 'run --dry-run --json | head -1');
    assert.is(json.code, 0, json.stderr);
    assert.is(json.head, '{\n');
    assert.not.ok(existsSync(path.join(repo.dir, '.git', 'work-milestone')), 'a dry-run created the state folder');
  } finally {
    repo.cleanup();
  }
});

/** An agent that waits for `$RELEASE`, then commits. */
const WAITING = `while [ ! -f "$RELEASE" ]; do sleep 0.05; done; ${COMMITTING_AGENT}`;

async function withWaitingRig(fn: (rig: Rig, release: string) => Promise<void>): Promise<void> {
  const gate = tempDir('wm-gate-');
  const release = path.join(gate, 'release');
  const rig = await makeRig({ command: WAITING, extra: 'timeout: 2m\nretries: 0' });
  try {
    await fn({ ...rig, env: { ...rig.env, RELEASE: release } }, release);
  } finally {
    writeFileSync(release, '');
    rig.cleanup();
    rmSync(gate, { recursive: true, force: true });
  }
}

test('run --json | head -1: the run ends quietly (exit 130, one line, no stack trace), run.lock released; the next run takes no stale lock and lands', async () => {
  await withWaitingRig(async (rig, release) => {
    const r = await piped('run', ['7', '--repo', rig.repo.dir, '--no-push', '--json'], rig.repo.dir, rig.env);
    assertNoStack(r, 'run --json | head -1');
    assert.is((JSON.parse(r.head) as { type: string }).type.length > 0, true, r.head);
    assert.is(r.code, 130, r.stderr);
    assert.is(
      r.stderr,
      'stdout was closed (EPIPE): stopped; agents still running were left alive: run again to re-attach\n',
    );
    assert.not.ok(existsSync(path.join(rig.repo.stateDir, 'run.lock')), 'run.lock left behind');
    writeFileSync(release, '');
    const again = await run(rig.repo, [], rig.env);
    assert.not.match(again.stderr, 'took over a stale run.lock');
    await assertLanded(rig, again);
  });
});

test('--dry-run leaves an existing state folder byte-identical (piped, --json, and with state.json truncated: shown healed, not written)', async () => {
  await withWaitingRig(async (rig, release) => {
    // A run interrupted while its agents work: state, events, item files, agents alive.
    const runner = startRunner(rig);
    await waitFor('2 agents', () => readEvents(rig.repo).filter((e) => e.type === 'agent-spawned').length >= 2);
    runner.kill('SIGINT');
    assert.is((await runner.done).code, 130);
    const dir = rig.repo.stateDir;
    const before = hashTree(dir);
    assert.ok(before['state.json'] && before['events.jsonl'], JSON.stringify(before));

    const dry = await piped('run', ['7', '--repo', rig.repo.dir, '--dry-run'], rig.repo.dir, rig.env);
    assertNoStack(dry, 'run --dry-run | head -1');
    assert.is(dry.code, 0, dry.stderr);
    assert.is(dry.head, 'validate: done\n');
    assert.equal(hashTree(dir), before, 'run --dry-run | head -1 changed the state folder');

    const json = await runCli('run', ['7', '--repo', rig.repo.dir, '--dry-run', '--json'], { env: rig.env });
    assert.is(json.code, 0, show(json));
    const doc = JSON.parse(json.stdout) as {
      dryRun: boolean;
      nodes: Array<{ id: string; done: boolean; reason: string | null }>;
    };
    assert.is(doc.dryRun, true);
    assert.equal(
      doc.nodes
        .filter((n) => n.done)
        .map((n) => n.id)
        .slice(0, 5),
      ['validate', 'prepare', 'branch', 'fetch', 'worktrees@1#1'],
    );
    assert.ok(
      doc.nodes.some((n) => n.id === 'land' && !n.done && n.reason),
      json.stdout,
    );
    assert.equal(hashTree(dir), before, 'run --dry-run --json changed the state folder');

    const file = path.join(dir, 'state.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, text.length >> 1));
    const truncated = hashTree(dir);
    const healed = await runCli('run', ['7', '--repo', rig.repo.dir, '--dry-run'], { env: rig.env });
    assert.is(healed.code, 0, show(healed));
    assert.match(healed.stderr, `${file} is not valid JSON`);
    assert.match(healed.stderr, 'using state.json.bak (the last state written)');
    assert.match(healed.stderr, '(--dry-run: nothing written)');
    assert.match(healed.stdout, /^validate: done$/m);
    assert.equal(hashTree(dir), truncated, 'a dry-run healed state.json');

    writeFileSync(release, '');
    const again = await run(rig.repo, [], rig.env);
    await assertLanded(rig, again);
  });
});

test.run();
