/**
 * A checked raw plan → the normalised, read-only Plan (docs/plan-format.md): both spellings merged, defaults filled in.
 */
import { parseByteSize } from '../byte-size.ts';
import { parseDuration } from '../duration.ts';
import { pick, rawWaves, type RawMap } from './raw.ts';
import type {
  AgentKind,
  AgentSettings,
  ExecutorSettings,
  Gate,
  Plan,
  PlanItem,
  PlanItemStatus,
  Schedule,
  LandMode,
  ScriptedEdit,
} from './types.ts';
import { derivedBranch } from './values.ts';
import { slugify } from '../slug.ts';

/** Built-in defaults (docs/plan-format.md, `defaults`). */
export const BUILTIN_SETTINGS: AgentSettings = {
  agent: 'claude',
  model: 'sonnet',
  effort: null,
  timeoutMs: 45 * 60_000,
  maxOutputBytes: 1024 ** 3,
  retries: 1,
  command: null,
  permissionMode: 'auto',
  allowedTools: [],
  maxBudgetUsd: null,
  agentArgs: [],
};

function settingsOf(map: RawMap, base: AgentSettings): AgentSettings {
  const timeout = pick<number | string>(map, 'timeout');
  const budget = pick<number>(map, 'max-budget-usd');
  const maxOutput = pick<number | string>(map, 'max-output');
  return {
    agent: pick<AgentKind>(map, 'agent') ?? base.agent,
    model: pick<string>(map, 'model') ?? base.model,
    effort: pick<string>(map, 'effort') ?? base.effort,
    timeoutMs: timeout === undefined ? base.timeoutMs : parseDuration(timeout),
    maxOutputBytes: maxOutput === undefined ? base.maxOutputBytes : parseByteSize(maxOutput),
    retries: pick<number>(map, 'retries') ?? base.retries,
    command: pick<string>(map, 'command') ?? base.command,
    permissionMode: pick<string>(map, 'permission-mode') ?? base.permissionMode,
    allowedTools: pick<string[]>(map, 'allowed-tools') ?? base.allowedTools,
    maxBudgetUsd: budget ?? base.maxBudgetUsd,
    agentArgs: pick<string[]>(map, 'agent-args') ?? base.agentArgs,
  };
}

/** Built-in executor settings: agents on this machine; for github-actions, the workflow `init-workflow` writes. */
export const BUILTIN_EXECUTOR: ExecutorSettings = {
  kind: 'local',
  repo: null,
  workflow: 'work-milestone-agent.yml',
  ref: 'main',
  remote: 'origin',
  concurrency: null,
  image: 'node:20',
  namespace: 'default',
  secret: null,
  cpu: null,
  memory: '2Gi',
};

/** `executor:` of a map over `base` (an item's over the defaults', key by key). */
function executorOf(map: RawMap, base: ExecutorSettings): ExecutorSettings {
  const raw = map.executor as RawMap | undefined;
  if (!raw) return base;
  return {
    kind: (raw.kind as ExecutorSettings['kind'] | undefined) ?? base.kind,
    repo: (raw.repo as string | undefined) ?? base.repo,
    workflow: (raw.workflow as string | undefined) ?? base.workflow,
    ref: (raw.ref as string | undefined) ?? base.ref,
    remote: (raw.remote as string | undefined) ?? base.remote,
    concurrency: (raw.concurrency as number | undefined) ?? base.concurrency,
    image: (raw.image as string | undefined) ?? base.image,
    namespace: (raw.namespace as string | undefined) ?? base.namespace,
    secret: (raw.secret as string | undefined) ?? base.secret,
    cpu: (raw.cpu as string | undefined) ?? base.cpu,
    memory: (raw.memory as string | undefined) ?? base.memory,
  };
}

function gatesOf(list: ReadonlyArray<string | RawMap> | undefined, timeoutMs: number, maxOutputBytes: number): Gate[] {
  return (list ?? []).map((g) => {
    if (typeof g === 'string') return { name: g, run: g, files: [], timeoutMs, maxOutputBytes };
    const t = pick<number | string>(g, 'timeout');
    const run = g.run as string;
    return {
      name: (g.name as string | undefined) ?? run,
      run,
      files: (g.files as string[] | undefined) ?? [],
      timeoutMs: t === undefined ? timeoutMs : parseDuration(t),
      maxOutputBytes,
    };
  });
}

/** The Plan of a raw plan that passed every check. */
export function normalisePlan(raw: RawMap, file: string, hash: string): Plan {
  const m = raw.milestone as RawMap;
  const id = String(m.number);
  const title = m.title as string;
  const defaultsRaw = (raw.defaults as RawMap | undefined) ?? {};
  const settings = settingsOf(defaultsRaw, BUILTIN_SETTINGS);
  const executor = executorOf(defaultsRaw, BUILTIN_EXECUTOR);
  const gateTimeout = pick<number | string>(defaultsRaw, 'gate-timeout');
  const gateTimeoutMs = gateTimeout === undefined ? 300_000 : parseDuration(gateTimeout);
  const waves = rawWaves(raw).map(({ wave, items }) => ({
    wave: wave.wave as number,
    parallel: wave.parallel !== false,
    items: items.map((item): PlanItem => {
      const group = pick<string | number | null>(item, 'conflict-group');
      return {
        issue: item.issue as number,
        title: item.title as string,
        slug: slugify(item.title as string, 40) || 'item',
        wave: wave.wave as number,
        priority: (item.priority as string | null | undefined) ?? null,
        conflictGroup: group === undefined || group === null ? null : String(group),
        dependsOn: pick<number[]>(item, 'depends-on') ?? [],
        settings: settingsOf(item, settings),
        executor: executorOf(item, executor),
        edits: (item.edits as ScriptedEdit[] | undefined) ?? [],
        planStatus: (item.status as PlanItemStatus | undefined) ?? null,
      };
    }),
  }));
  const gates = pick<RawMap>(raw, 'quality-gates') ?? {};
  const backlog = (raw.backlog as RawMap | undefined) ?? { kind: 'file' };
  return {
    file,
    hash,
    milestone: {
      id,
      title,
      slug: slugify(title),
      integrationBranch: pick<string>(m, 'integration-branch') ?? derivedBranch(id, title),
    },
    conflictGroups: (pick<RawMap[]>(raw, 'conflict-groups') ?? []).map((g) => ({
      id: String(pick<string | number>(g, 'group-id')),
      reason: (g.reason as string | undefined) ?? '',
      items: ((g.items as unknown[] | undefined) ?? []).map(String),
    })),
    waves,
    gates: {
      preMerge: gatesOf(pick(gates, 'pre-merge'), gateTimeoutMs, settings.maxOutputBytes),
      postMerge: gatesOf(pick(gates, 'post-merge'), gateTimeoutMs, settings.maxOutputBytes),
    },
    defaults: {
      ...settings,
      concurrency: (defaultsRaw.concurrency as number | undefined) ?? 3,
      merge: (defaultsRaw.merge as 'merge' | 'squash' | undefined) ?? 'merge',
      schedule: (defaultsRaw.schedule as Schedule | undefined) ?? 'waves',
      land: (defaultsRaw.land as LandMode | undefined) ?? 'direct',
      maxFixAttempts: pick<number>(defaultsRaw, 'max-fix-attempts') ?? 2,
      promptTemplate: pick<string>(defaultsRaw, 'prompt-template') ?? null,
      worktreeRoot: pick<string>(defaultsRaw, 'worktree-root') ?? 'worktrees',
      gateTimeoutMs,
      executor,
    },
    backlog:
      backlog.kind === 'github'
        ? { kind: 'github', repo: typeof backlog.repo === 'string' ? backlog.repo : null }
        : { kind: 'file', dir: (backlog.dir as string | undefined) ?? 'plan/backlog' },
    runBudgetUsd: pick<number>(raw, 'max-budget-usd') ?? null,
  };
}
