/** relay (per wave): write `relay/wave-<W>.md` for the next waves. */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatRelay, relayPath } from './relay-text.ts';
import { DONE, todo, type Step } from './step.ts';

/** relay step. */
export const relay: Step = {
  id: 'relay',
  async check(ctx, scope) {
    const file = relayPath(ctx.stateDir, scope.wave ?? 0);
    if (!existsSync(file)) return todo('relay file not written');
    // A retried item changes what the wave learned: the relay is rewritten after its merge.
    const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
    if (wave && ctx.store.current().relays[String(scope.wave)] !== formatRelay(wave, ctx.store.current().items)) return todo('relay is out of date');
    return DONE;
  },
  async run(ctx, scope, progress) {
    const wave = ctx.plan.waves.find((w) => w.wave === scope.wave);
    if (!wave) return;
    const text = formatRelay(wave, ctx.store.current().items);
    const file = relayPath(ctx.stateDir, wave.wave);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
    await ctx.store.update((s) => {
      s.relays[String(wave.wave)] = text;
    });
    progress.output(path.relative(ctx.stateDir, file));
  },
};
