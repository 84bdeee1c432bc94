/**
 * What `status` reads besides state.json (docs/status.md): the run lock's owner and whether it lives, the end of
 * events.jsonl, each in-progress item's agent from its run files (alive, exited and not judged, gone; its last
 * activity), live conflict and fix agents, and the logs of gate runs. Reads only, every file bounded.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { findLiveAgents, liveAgentOf } from '../executors/local/live-agents.ts';
import { readExitCode, runFilesOf } from '../executors/local/process.ts';
import { readTail } from '../lib/bounded-text.ts';
import { readEventLog, type StampedEvent } from '../lib/events.ts';
import { itemDirOf } from '../lib/paths.ts';
import type { Plan } from '../lib/plan/types.ts';
import { findItem } from '../lib/plan/types.ts';
import { isProcessAlive } from '../lib/process-info.ts';
import type { ItemState, State } from '../lib/state-types.ts';
import type { AgentKind } from '../lib/plan/types.ts';
import { lastActivity } from '../reporting/last-activity.ts';
import type { AgentFacts, RunnerFacts, StatusFacts } from '../reporting/status-view.ts';

/** How much of events.jsonl is read: its end (a long run's log is never read whole). */
const EVENTS_TAIL_BYTES = 4 * 1024 * 1024;
/** How much of an agent's output is read for its last activity. */
const OUTPUT_TAIL_BYTES = 64 * 1024;

/** The owner `run.lock` names, or null when there is none (or it is unreadable). */
export function readRunner(stateDir: string): RunnerFacts | null {
  const text = readTail(path.join(stateDir, 'run.lock'), 4096).text;
  try {
    const data = JSON.parse(text) as { pid?: unknown; startTime?: unknown; startedAt?: unknown; command?: unknown };
    if (typeof data.pid !== 'number' || typeof data.startTime !== 'string') return null;
    return {
      pid: data.pid,
      command: typeof data.command === 'string' ? data.command : '',
      startedAt: typeof data.startedAt === 'string' ? data.startedAt : '',
      alive: isProcessAlive(data.pid, data.startTime),
    };
  } catch {
    return null;
  }
}

/** An in-progress item's current agent, from its run files. */
function agentFacts(plan: Plan, stateDir: string, st: ItemState): AgentFacts {
  const kind: AgentKind = st.handle?.agent ?? findItem(plan, st.issue)?.settings.agent ?? plan.defaults.agent;
  const dir = st.handle?.dir ?? itemDirOf(stateDir, st.issue);
  const files = runFilesOf(dir, st.handle?.name ?? `item-${st.attempts}`);
  const pidText = readTail(files.pid, 64).text.trim();
  const pid = /^\d+$/.test(pidText) ? Number(pidText) : (st.process?.pid ?? null);
  const out = readTail(files.stdout, OUTPUT_TAIL_BYTES).text;
  const activity = lastActivity(out, kind) ?? lastActivity(readTail(files.stderr, OUTPUT_TAIL_BYTES).text, 'command');
  const exitCode = pid === null ? null : readExitCode(files, pid);
  if (exitCode !== null) return { life: 'exited', pid, exitCode, activity, kind };
  if (pidText === '') return { life: 'not started', pid: null, exitCode: null, activity, kind };
  const life = liveAgentOf(files.pid, st.issue) ? 'running' : 'gone';
  return { life, pid, exitCode: null, activity, kind };
}

/** The logs of gate runs named by gate events: `gates/<sha12>-<attempt>/<n>-<phase>-<slug>.log`, latest attempt. */
function gateLogs(stateDir: string, events: readonly StampedEvent[]): Record<string, string> {
  const logs: Record<string, string> = {};
  const root = path.join(stateDir, 'gates');
  let folders: string[];
  try {
    folders = readdirSync(root);
  } catch {
    return logs;
  }
  for (const e of events) {
    if (e.type !== 'gate') continue;
    const slug = e.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
    const attempts = folders
      .filter((f) => f.startsWith(`${e.sha.slice(0, 12)}-`))
      .sort((a, b) => Number(b.split('-').pop()) - Number(a.split('-').pop()));
    for (const folder of attempts) {
      const file = (() => {
        try {
          return readdirSync(path.join(root, folder)).find((f) => f.endsWith(`-${e.phase}-${slug}.log`));
        } catch {
          return undefined;
        }
      })();
      if (file) {
        logs[`${e.sha}:${e.phase}:${e.name}`] = path.join(root, folder, file);
        break;
      }
    }
  }
  return logs;
}

/** Everything `status` shows besides state.json. */
export function readStatusFacts(plan: Plan, state: State, stateDir: string, started: boolean): StatusFacts {
  const events = readEventLog(stateDir, EVENTS_TAIL_BYTES);
  const agents: Record<string, AgentFacts> = {};
  for (const st of Object.values(state.items))
    if (st.status === 'in-progress') agents[String(st.issue)] = agentFacts(plan, stateDir, st);
  const sessions = findLiveAgents(stateDir)
    .filter((a) => a.kind === 'session')
    .map((a) => ({ name: a.name, issue: a.issue, pid: a.pid, since: a.startedAt }));
  return {
    now: Date.now(),
    started,
    stateDir,
    runner: readRunner(stateDir),
    events,
    agents,
    sessions,
    gateLogs: gateLogs(stateDir, events),
  };
}
