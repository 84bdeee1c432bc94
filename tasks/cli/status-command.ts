/**
 * `status.mts <N> [--json] [--watch]`: the runner, the steps running, each item and its agent, red gates, what needs
 * attention and the command that continues (docs/status.md). Reads only.
 */
import { commandLine } from '../lib/command-words.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { healedNotice, loadPlanOf } from '../engine/create-context.ts';
import { findCommonDir } from '../lib/git.ts';
import type { Plan } from '../lib/plan/types.ts';
import { stateDirOf } from '../lib/paths.ts';
import { openStateStore } from '../lib/state.ts';
import { findLiveAgents } from '../executors/local/live-agents.ts';
import { buildStatus, type StatusView } from '../reporting/status-view.ts';
import { formatStatus, statusKey } from '../reporting/status-text.ts';
import { readStatusFacts } from './status-facts.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** How often `--watch` looks again. */
const WATCH_INTERVAL_MS = 1000;
/** Clear the screen and go home: a TTY's redraw. */
const REDRAW = '\u001b[H\u001b[2J';

/** Read the state (never written: a missing or unusable one is shown as `run` would heal it) and build the view. */
async function readView(plan: Plan, repo: string, dir: string, io: Io, notice: boolean): Promise<StatusView> {
  const store = await openStateStore(dir, plan.milestone.id, {
    readOnly: true,
    rebuild: async () => (await import('../engine/rebuild-state.ts')).rebuildState({ stateDir: dir, repo, plan }),
  });
  if (store.healed && notice)
    io.err(
      healedNotice(
        store.healed,
        findLiveAgents(dir),
        `status writes nothing; \`${commandLine(io.entry, 'run', [plan.milestone.id])}\` heals it`,
      ),
    );
  const started = Boolean(store.healed) || existsSync(path.join(dir, 'state.json'));
  const state = store.current();
  return buildStatus(plan, state, readStatusFacts(plan, state, dir, started), io.entry);
}

const render = (view: StatusView, json: boolean, pretty: boolean): string =>
  json ? JSON.stringify(view, null, pretty ? 2 : undefined) : formatStatus(view);

/**
 * `--watch`: on a TTY the screen is redrawn every second; otherwise the status is printed again whenever something
 * but the clock changed (`--json`: one JSON document a line). Ctrl-C (or stdout's reader going away) ends it, exit 0.
 */
async function watchStatus(read: () => Promise<StatusView>, flags: Flags, io: Io): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  io.outClosed?.addEventListener('abort', onSignal, { once: true });
  try {
    let shown = '';
    while (!stop.signal.aborted) {
      const view = await read();
      if (io.isTTY) io.out(`${REDRAW}${render(view, flags.json, true)}`);
      else if (statusKey(view) !== shown) {
        shown = statusKey(view);
        io.out(render(view, flags.json, false));
      }
      await sleep(WATCH_INTERVAL_MS, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.outClosed?.removeEventListener('abort', onSignal);
  }
}

/** Print the milestone's status (once, or `--watch`). */
export async function statusCommand(milestone: string, flags: Flags, io: Io): Promise<number> {
  const { repo, plan } = await loadPlanOf({ milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const dir = stateDirOf(await findCommonDir(repo), plan.milestone.id);
  let first = true;
  const read = async () => {
    const view = await readView(plan, repo, dir, io, first);
    first = false;
    return view;
  };
  if (flags.watch) return watchStatus(read, flags, io);
  io.out(render(await read(), flags.json, true));
  return 0;
}
