/** `status.mts <N>`: what is done, running, failed; costs and times. Reads only. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { healedNotice, loadPlanOf } from '../engine/create-context.ts';
import { oneLine } from '../lib/bounded-text.ts';
import { findCommonDir } from '../lib/git.ts';
import { stateDirOf } from '../lib/paths.ts';
import { openStateStore } from '../lib/state.ts';
import { findLiveAgents } from '../executors/local/live-agents.ts';
import type { Flags } from './flags.ts';
import type { Io } from './io.ts';

/** Print the milestone's status. */
export async function statusCommand(milestone: string, flags: Flags, io: Io): Promise<number> {
  const { repo, plan } = await loadPlanOf({ milestone, cwd: io.cwd, repo: flags.repo, plan: flags.plan });
  const dir = stateDirOf(await findCommonDir(repo), plan.milestone.id);
  // Read only: a missing or unusable state.json is shown as `run` would heal it (from its backup, or rebuilt), not written.
  const store = await openStateStore(dir, plan.milestone.id, {
    readOnly: true,
    rebuild: async () => (await import('../engine/rebuild-state.ts')).rebuildState({ stateDir: dir, repo, plan }),
  });
  if (store.healed)
    io.err(
      healedNotice(
        store.healed,
        findLiveAgents(dir),
        `status writes nothing; \`npx zx scripts/run.mts ${plan.milestone.id}\` heals it`,
      ),
    );
  const started = Boolean(store.healed) || existsSync(path.join(dir, 'state.json'));
  const state = store.current();
  const items = plan.waves.flatMap((w) =>
    w.items.map((i) => {
      const st = state.items[String(i.issue)];
      return {
        wave: w.wave,
        issue: i.issue,
        title: i.title,
        status: st?.status ?? 'pending',
        attempts: st?.attempts ?? 0,
        costUsd: st?.result?.costUsd ?? null,
        turns: st?.result?.turns ?? null,
        durationMs: st?.result?.durationMs ?? null,
        merge: st?.merge?.kind ?? null,
        failure: st?.failure ?? st?.skipReason ?? null,
        failureCode: st?.failureCode ?? null,
        // Where a remote attempt runs: the run's page (its run-name until the id is known), the Job.
        remote:
          st?.handle?.kind === 'github-actions'
            ? (st.handle.url ?? `run ${st.handle.id}`)
            : st?.handle?.kind === 'kubernetes'
              ? `job ${st.handle.namespace}/${st.handle.job}`
              : null,
      };
    }),
  );
  const phase = !started
    ? 'not started'
    : state.complete
      ? 'complete'
      : state.land
        ? 'landed'
        : state.gates
          ? 'gates green'
          : state.branch
            ? 'in progress'
            : 'started';
  const cost =
    items.reduce((sum, i) => sum + (i.costUsd ?? 0), 0) +
    (state.sessions ?? []).reduce((sum, s) => sum + (s.costUsd ?? 0), 0);
  if (flags.json) {
    io.out(
      JSON.stringify(
        {
          milestone: plan.milestone.id,
          phase,
          stateDir: dir,
          costUsd: cost,
          items,
          gates: state.gates,
          land: state.land,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (!started) {
    io.out(`milestone ${plan.milestone.id}: not started`);
    return 0;
  }
  io.out(`milestone ${plan.milestone.id}: ${phase} (${plan.milestone.integrationBranch})`);
  for (const i of items) {
    const extra = [
      i.attempts > 1 ? `${i.attempts} attempts` : '',
      i.merge ? `merge ${i.merge}` : '',
      i.costUsd !== null ? `$${i.costUsd.toFixed(4)}` : '',
      i.turns !== null ? `${i.turns} turns` : '',
      i.durationMs !== null ? `${Math.round(i.durationMs / 1000)}s` : '',
      i.remote ?? '',
    ]
      .filter(Boolean)
      .join(', ');
    io.out(
      `  wave ${i.wave}  #${i.issue} ${oneLine(i.title).slice(0, 60)}: ${i.status}${extra ? ` (${extra})` : ''}${i.failure ? ` — ${i.failure.split('\n')[0]}` : ''}`,
    );
  }
  if (cost > 0) io.out(`  agent cost: $${cost.toFixed(4)}`);
  return 0;
}
