/** relay (per wave): write `relay/wave-<W>.md` for the next waves. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { formatRelay, relayPath } from '../reporting/relay-text.ts';
import { DONE, todo, type Step } from '../engine/step.ts';
import { landModeOf } from '../landing/land-mode.ts';
import { originExists, pushIntegration } from '../landing/push-branch.ts';
import { git } from '../lib/git.ts';
import { writeOwnFile } from '../lib/own-file.ts';

/**
 * What state keeps of a relay: its digest (`sha256:<hex>`), not its text, which the relay file holds; a copy in
 * state.json would grow it by every item's notes and commits again (docs/limits.md).
 */
export function relayDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** relay step. */
export const relay: Step = {
  id: 'relay',
  async check(ctx, scope) {
    const file = relayPath(ctx.stateDir, scope.wave ?? 0);
    if (!existsSync(file)) return todo('relay file not written');
    // A retried item changes what the wave learned: the relay is rewritten after its merge.
    const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
    if (
      wave &&
      ctx.store.current().relays[String(scope.wave)] !==
        relayDigest(formatRelay(wave, ctx.store.current().items, ctx.store.current().cache))
    )
      return todo('relay is out of date');
    return DONE;
  },
  async run(ctx, scope, progress) {
    const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
    if (!wave) return;
    // Landing through a pull request: the wave's merges go to origin's integration branch, so progress shows on
    // GitHub. Before the relay is recorded, so a push that failed is tried again with it.
    if (landModeOf(ctx) === 'pull-request' && ctx.options.push && (await originExists(ctx))) {
      await pushIntegration(
        ctx,
        await git(ctx.repo, ['rev-parse', `refs/heads/${ctx.plan.milestone.integrationBranch}`]),
      );
      progress.output(`pushed ${ctx.plan.milestone.integrationBranch} to origin`);
    }
    const text = formatRelay(wave, ctx.store.current().items, ctx.store.current().cache);
    const file = relayPath(ctx.stateDir, wave.wave);
    await mkdir(path.dirname(file), { recursive: true });
    await writeOwnFile(file, text);
    await ctx.store.update((s) => {
      s.relays[String(wave.wave)] = relayDigest(text);
    });
    progress.output(path.relative(ctx.stateDir, file));
  },
};
