/**
 * State that heals or refuses safely (docs/state.md): the runner is SIGKILLed while its agents work and state.json is
 * found truncated (its backup too, or the state cannot be rebuilt). Every piece of advice the tool prints is then
 * followed literally, run after run, as a user would: the advised command is parsed out of the message and run in
 * the repository. The agents log their own start and end with their pid: no item ever has two agents alive at once,
 * and the milestone lands. The agents wait on a file the test creates, so they are surely alive while the runs decide.
 */
import { renameSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMMITTING_AGENT, readEvents, startCli, tempDir, type CliResult } from './support/fixture.ts';
import { show, waitFor, type RigItem } from './support/wave-rig.ts';
import { watch } from './support/cli.ts';
import { assertLanded, makeRig, startRunner, type Rig } from './support/converge-rig.ts';
import { isAlive } from './support/processes.ts';
import { readStateFile } from './support/state-files.ts';

/** Logs `start|end <issue> <pid> <ns>` to $TIMES (an end also when stopped), waits for $RELEASE, then commits. */
const AGENT = [
  'echo "start $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"',
  `trap 'echo "end $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"; exit 143' TERM INT`,
  'while [ ! -f "$RELEASE" ]; do sleep 0.05; done',
  COMMITTING_AGENT,
  'echo "end $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"',
].join('\n');

interface Times {
  readonly file: string;
  readonly release: string;
  readonly env: Record<string, string>;
}

function makeTimes(): Times {
  const dir = tempDir('wm-times-');
  return {
    file: path.join(dir, 'times'),
    release: path.join(dir, 'release'),
    env: { TIMES: path.join(dir, 'times'), RELEASE: path.join(dir, 'release') },
  };
}

/** The agents' own log: `start|end issue pid ns`. */
function timesOf(t: Times): Array<{ kind: string; issue: number; pid: number; ns: bigint }> {
  if (!existsSync(t.file)) return [];
  return readFileSync(t.file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [kind = '', issue = '', pid = '', ns = '0'] = l.split(' ');
      return { kind, issue: Number(issue), pid: Number(pid), ns: BigInt(ns) };
    });
}

/** Items that had two agents alive at once (an agent that never logged its end counts as alive ever after). */
function overlaps(t: Times): string[] {
  const found: string[] = [];
  const byIssue = new Map<number, ReturnType<typeof timesOf>>();
  for (const e of timesOf(t)) byIssue.set(e.issue, [...(byIssue.get(e.issue) ?? []), e]);
  for (const [issue, events] of byIssue) {
    events.sort((a, b) => (a.ns === b.ns ? (a.kind === 'end' ? -1 : 1) : a.ns < b.ns ? -1 : 1));
    const alive = new Set<number>();
    for (const e of events) {
      if (e.kind === 'end') alive.delete(e.pid);
      else {
        if (alive.size > 0) found.push(`#${issue}: pid ${e.pid} started while pid ${[...alive].join(', ')} was alive`);
        alive.add(e.pid);
      }
    }
  }
  return found;
}

function startsOf(t: Times): Record<number, number> {
  const out: Record<number, number> = {};
  for (const e of timesOf(t)) if (e.kind === 'start') out[e.issue] = (out[e.issue] ?? 0) + 1;
  return out;
}

async function withTimes(
  waves: ReadonlyArray<readonly RigItem[]> | undefined,
  fn: (rig: Rig, t: Times) => Promise<void>,
): Promise<void> {
  const t = makeTimes();
  const rig = await makeRig({ waves, command: AGENT, extra: 'timeout: 2m\nretries: 0' });
  try {
    await fn({ ...rig, env: { ...rig.env, ...t.env } }, t);
  } finally {
    writeFileSync(t.release, '');
    rig.cleanup();
    rmSync(path.dirname(t.file), { recursive: true, force: true });
  }
}

/** Start a run, wait until `n` agents were spawned, then SIGKILL the runner (its agents live on). */
async function killRunnerWhileAgentsWork(rig: Rig, t: Times, n: number): Promise<void> {
  const runner = startRunner(rig);
  await waitFor(
    `${n} agents working`,
    () =>
      timesOf(t).filter((e) => e.kind === 'start').length >= n &&
      readEvents(rig.repo).filter((e) => e.type === 'agent-spawned').length >= n,
    30_000,
  );
  runner.kill('SIGKILL');
  await runner.done;
}

/** Cut a file in half, as a crash or a full disk leaves it. */
function truncate(file: string): void {
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
}

/** One piece of advice, as a user would follow it. */
type Advice =
  | { readonly kind: 'command'; readonly script: string; readonly args: string[] }
  | { readonly kind: 'move'; readonly file: string };

/** The advice in a command's output: backticked commands, "move it away" (of the file named first), "run again". */
function adviceIn(r: CliResult, milestone: string): Advice[] {
  const text = `${r.stderr}\n${r.stdout}`;
  const advice: Advice[] = [];
  for (const m of text.matchAll(/`npx zx scripts\/(\w+)\.mts ([^`]*)`/g))
    advice.push({ kind: 'command', script: m[1] as string, args: (m[2] as string).trim().split(/\s+/) });
  // "move it away to start milestone 7 afresh": move it, then start it.
  const move = /(\S+state\.json)\b[^\n]*move it away/.exec(text);
  if (move)
    advice.push({ kind: 'move', file: move[1] as string }, { kind: 'command', script: 'run', args: [milestone] });
  if (advice.every((a) => a.kind !== 'command' || a.args.includes('--stop')) && /run (it )?again/i.test(text))
    advice.push({ kind: 'command', script: 'run', args: [milestone] });
  return advice;
}

/**
 * Whether the command started after `eventsBefore` events (and `startsBefore` agent starts) has settled its agents:
 * it waits on a wave, every agent it spawned has logged its start, and every item of the wave has its agent recorded
 * (re-attached, adopted or started) or is over. Only then are the agents released, so that a second agent a faulty
 * run starts is alive together with the first one.
 */
function settled(rig: Rig, t: Times, eventsBefore: number, startsBefore: number): boolean {
  const events = readEvents(rig.repo).slice(eventsBefore);
  const waiting = events.find((e) => e.type === 'step-start' && String(e.node).startsWith('wait@'));
  if (!waiting) return false;
  const spawned = events.filter((e) => e.type === 'agent-spawned').length;
  if (timesOf(t).filter((e) => e.kind === 'start').length < startsBefore + spawned) return false;
  let items: Array<{ wave: number; status: string; process: unknown }>;
  try {
    items = Object.values(
      (
        readStateFile(rig.repo) as {
          items: Record<string, { wave: number; status: string; process: unknown }>;
        }
      ).items,
    );
  } catch {
    return false;
  }
  const wave = items.filter((i) => i.wave === Number(String(waiting.node).slice('wait@'.length)));
  return (
    wave.length > 0 &&
    wave.every((i) => (i.status === 'in-progress' && i.process) || !['pending', 'in-progress'].includes(i.status))
  );
}

/**
 * Start `script args` in the repository as a user would type it; once it has settled its agents, release them (unless
 * `hold`). A command that ends without settling them leaves them waiting: a later command that starts a second agent
 * for an item does so while the first one is surely alive. Resolves with its result.
 */
async function follow(rig: Rig, t: Times, script: string, args: readonly string[], hold = false): Promise<CliResult> {
  const eventsBefore = readEvents(rig.repo).length;
  const startsBefore = timesOf(t).filter((e) => e.kind === 'start').length;
  const cmd = watch(startCli(script, args, { cwd: rig.repo.dir, env: rig.env }));
  await waitFor(
    `${script} ${args.join(' ')} to settle its agents or end`,
    () => cmd.ended() || settled(rig, t, eventsBefore, startsBefore),
    90_000,
  );
  if (!cmd.ended() && !hold) writeFileSync(t.release, '');
  return cmd.done;
}

/** Follow the tool's advice from `first` on until a command exits 0; returns every command run and the last result. */
async function followAdvice(rig: Rig, t: Times, first: CliResult): Promise<{ log: string[]; last: CliResult }> {
  const log: string[] = [];
  let last = first;
  for (let round = 0; last.code !== 0; round++) {
    if (round >= 6 || overlaps(t).length > 0) break;
    log.push(`-> exit ${last.code}: ${last.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const advice = adviceIn(last, '7');
    assert.ok(advice.length > 0, `exit ${last.code} without advice to follow:\n${show(last)}`);
    for (const a of advice) {
      if (a.kind === 'move') {
        log.push(`mv ${a.file}`);
        renameSync(a.file, `${a.file}.moved-away`);
        continue;
      }
      log.push(`${a.script} ${a.args.join(' ')}`);
      last = await follow(rig, t, a.script, a.args);
    }
  }
  return { log, last };
}

async function assertHealedAndLanded(rig: Rig, t: Times, breakState: () => void): Promise<CliResult> {
  await killRunnerWhileAgentsWork(rig, t, 2);
  const pids = timesOf(t).map((e) => e.pid);
  breakState();
  assert.ok(pids.every(isAlive), 'the agents died with their runner');
  // What a user does after a crash: run again.
  const first = await follow(rig, t, 'run', ['7']);
  const { log, last } = await followAdvice(rig, t, first);
  assert.equal(overlaps(t), [], `two agents of one item alive at once; the advice followed:\n${log.join('\n')}`);
  assert.is(last.code, 0, `not done after following the advice:\n${log.join('\n')}\n${show(last)}`);
  assert.not.ok(
    log.some((l) => /move it away|afresh/.test(l)),
    `advice that can start a second agent:\n${log.join('\n')}`,
  );
  assert.equal(startsOf(t), { 1: 1, 2: 1 }, 'an item was started again although its agent lived');
  await assertLanded(rig, last);
  return first;
}

test('runner SIGKILLed while agents work, state.json truncated: restored from its backup, the agents are waited for, it lands', async () => {
  await withTimes(undefined, async (rig, t) => {
    const file = path.join(rig.repo.stateDir, 'state.json');
    const first = await assertHealedAndLanded(rig, t, () => truncate(file));
    assert.match(first.stderr, `${file} is not valid JSON`);
    assert.match(first.stderr, 'restored it from state.json.bak');
  });
});

test('state.json and its backup truncated: rebuilt from the item files, pid files and git; live agents adopted, none started twice; it lands', async () => {
  await withTimes(undefined, async (rig, t) => {
    const file = path.join(rig.repo.stateDir, 'state.json');
    const first = await assertHealedAndLanded(rig, t, () => {
      truncate(file);
      const backup = path.join(rig.repo.stateDir, 'state.json.bak');
      if (existsSync(backup)) truncate(backup);
    });
    assert.match(first.stderr, "rebuilt it from the milestone's files and git");
    assert.match(
      first.stderr,
      /agents still running are waited for, none is started twice: #1 attempt 1 \(pid \d+, since [^)]+\), #2 attempt 1/,
    );
    assert.match(first.stderr, /the unusable file is kept as \S+state\.json\.unreadable-/);
  });
});

test('state.json moved away while its agents work (the old advice): the next run finds them through their pid files', async () => {
  await withTimes(undefined, async (rig, t) => {
    const dir = rig.repo.stateDir;
    await assertHealedAndLanded(rig, t, () => {
      renameSync(path.join(dir, 'state.json'), path.join(dir, 'moved-away.json'));
      rmSync(path.join(dir, 'state.json.bak'), { force: true });
    });
  });
});

test('a state that cannot be rebuilt: exit 2 listing the live agents and the command that stops them; followed, then fixed, it lands', async () => {
  const waves = [
    [
      { issue: 1, title: 'One' },
      { issue: 2, title: 'Two' },
    ],
    [{ issue: 3, title: 'Three' }],
  ];
  await withTimes(waves, async (rig, t) => {
    await killRunnerWhileAgentsWork(rig, t, 2);
    const pids = timesOf(t).map((e) => e.pid);
    const file = path.join(rig.repo.stateDir, 'state.json');
    truncate(file);
    rmSync(path.join(rig.repo.stateDir, 'state.json.bak'), { force: true });
    // A file where item #3's folder belongs: rebuilding cannot read it.
    mkdirSync(path.join(rig.repo.stateDir, 'items'), { recursive: true });
    writeFileSync(path.join(rig.repo.stateDir, 'items', '3'), 'not a folder');

    const refused = await follow(rig, t, 'run', ['7'], true);
    assert.is(refused.code, 2, show(refused));
    assert.not.match(refused.stderr, /^\s+at /m);
    assert.match(refused.stderr, /^[^\n]+\n$/, 'one line');
    assert.match(refused.stderr, `${file} is not valid JSON`);
    for (const issue of [1, 2]) {
      const listed = Number(new RegExp(`#${issue} attempt 1 \\(pid (\\d+),`).exec(refused.stderr)?.[1]);
      assert.ok(isAlive(listed), `#${issue}: the listed pid ${listed} is not a live process\n${refused.stderr}`);
    }
    assert.match(refused.stderr, 'stop them with `npx zx scripts/run.mts 7 --stop`');
    assert.not.match(refused.stderr, /move it away|afresh/);
    assert.ok(pids.every(isAlive), 'the refusal touched the agents');
    assert.equal(startsOf(t), { 1: 1, 2: 1 });

    // Followed literally: the stop command, in the repository.
    const advice = adviceIn(refused, '7').find((a) => a.kind === 'command' && a.args.includes('--stop'));
    assert.ok(advice && advice.kind === 'command', JSON.stringify(adviceIn(refused, '7')));
    const stopped = await follow(rig, t, advice.script, advice.args, true);
    assert.is(stopped.code, 0, show(stopped));
    assert.match(stopped.stderr, 'stopped the agents of #1, #2 (found through their pid files)');
    assert.ok(
      pids.every((p) => !isAlive(p)),
      'an agent survived --stop',
    );

    // The cause fixed, run again: both items start afresh (their stopped attempts not counted), never two at once.
    rmSync(path.join(rig.repo.stateDir, 'items', '3'));
    const again = await follow(rig, t, 'run', ['7']);
    assert.equal(overlaps(t), []);
    assert.equal(startsOf(t), { 1: 2, 2: 2, 3: 1 });
    await assertLanded(rig, again, [1, 2, 3]);
  });
});

/**
 * Items commit at once; the gate fix agent (role fix, issue 0) logs its start and end, waits for $RELEASE, then makes
 * the gate pass.
 */
const FIXING_AGENT = [
  'if [ "$WM_ROLE" = fix ]; then',
  '  echo "start $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"',
  `  trap 'echo "end $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"; exit 143' TERM INT`,
  '  while [ ! -f "$RELEASE" ]; do sleep 0.05; done',
  '  echo fixed > fixed.txt && git add fixed.txt && git commit -qm "fix the gate"',
  `  printf 'STATUS: COMPLETE\\nBRANCH: %s\\nNOTES: fixed\\n' "$WM_BRANCH"`,
  '  echo "end $WM_ISSUE $$ $(date +%s%N)" >> "$TIMES"',
  '  exit 0',
  'fi',
  COMMITTING_AGENT,
].join('\n');

async function withFixRig(fn: (rig: Rig, t: Times) => Promise<void>): Promise<void> {
  const t = makeTimes();
  const rig = await makeRig({
    waves: [[{ issue: 1, title: 'One' }]],
    command: FIXING_AGENT,
    extra: 'timeout: 2m\nretries: 0',
    top: 'quality-gates:\n  post-merge: ["test -f fixed.txt"]',
  });
  try {
    const env = { ...rig.env, ...t.env };
    const runner = startRunner({ ...rig, env });
    await waitFor('the gate fix agent working', () => startsOf(t)[0] === 1, 60_000);
    runner.kill('SIGKILL');
    await runner.done;
    await fn({ ...rig, env }, t);
  } finally {
    writeFileSync(t.release, '');
    rig.cleanup();
    rmSync(path.dirname(t.file), { recursive: true, force: true });
  }
}

test('a gate fix agent left running by a runner that died: the next run waits for it (no second fix agent in the worktree), then lands', async () => {
  await withFixRig(async (rig, t) => {
    const runner = watch(startCli('run', ['7'], { cwd: rig.repo.dir, env: rig.env }));
    await waitFor(
      'the run to wait for the orphan',
      () => runner.stderr().includes('waiting for agents a runner that died left running'),
      60_000,
    );
    assert.match(
      runner.stderr(),
      /\(`npx zx scripts\/run\.mts 7 --stop` stops them\): fix agent fix-[0-9a-f]{12}-1-1 of the gates \(pid \d+, since /,
    );
    writeFileSync(t.release, '');
    const r = await runner.done;
    assert.equal(overlaps(t), []);
    assert.equal(startsOf(t), { 0: 1 }, 'a second fix agent was started');
    await assertLanded(rig, r, [1]);
  });
});

test('run --stop finds a gate fix agent only its pid file knows and stops it; the next run fixes the gate afresh and lands', async () => {
  await withFixRig(async (rig, t) => {
    const stopped = await follow(rig, t, 'run', ['7', '--stop'], true);
    assert.is(stopped.code, 0, show(stopped));
    assert.match(
      stopped.stderr,
      /^stopped 1 conflict\/fix agent\(s\) \(fix-[0-9a-f]{12}-1-1\); run again to start them afresh$/m,
    );
    assert.is(timesOf(t).filter((e) => e.kind === 'end').length, 1, 'the fix agent did not end');
    writeFileSync(t.release, '');
    const r = await follow(rig, t, 'run', ['7']);
    assert.equal(overlaps(t), []);
    assert.equal(startsOf(t), { 0: 2 });
    await assertLanded(rig, r, [1]);
  });
});

test.run();
