/** The environment agents and gates get: the runner's, marked as a child, without our own tsx loader. */
import { LIMITS, capText } from './bounded-text.ts';

/** Flags that load code before a program, with the value as the next word or after `=`. */
const LOADER_FLAGS = new Set(['--import', '--loader', '--experimental-loader', '--require', '-r']);

/**
 * Variables that become node options of the user's programs: NODE_OPTIONS, and npm's `node-options` setting, which
 * npm exports to its children (`npm_config_node_options`) and turns back into NODE_OPTIONS in every script it runs.
 */
const NODE_OPTIONS_VARS = /^(node_options|npm_config_node[-_]options)$/i;

/**
 * Whether a loader flag's value is tsx: the package (`tsx`, `tsx/esm`, …) or a file inside it, as a path or a file URL.
 */
function isTsx(value: string): boolean {
  const v = value.replace(/^(["'])(.*)\1$/, '$2').replace(/\\/g, '/');
  return /^tsx(\/|$)/.test(v) || /(^|\/)node_modules\/tsx\//.test(v) || /(^|\/)tsx\/dist\/[^/]+\.[cm]?js$/.test(v);
}

/** Words of an options string as node splits NODE_OPTIONS (whitespace, double quotes group), each kept as written. */
function words(options: string): string[] {
  return options.match(/(?:"(?:\\.|[^"\\])*"|[^\s"])+/g) ?? [];
}

/**
 * Remove our tsx loader (`.npmrc` adds `--import tsx` for our scripts; tsx itself adds its own loader files) so node
 * programs of the user's project run as they would by hand; every other option stays, in order.
 */
export function stripTsxLoader(nodeOptions: string | undefined): string | undefined {
  if (!nodeOptions) return undefined;
  const kept: string[] = [];
  const list = words(nodeOptions);
  for (let i = 0; i < list.length; i++) {
    const word = list[i] as string;
    const eq = word.indexOf('=');
    const flag = eq > 0 ? word.slice(0, eq) : word;
    if (LOADER_FLAGS.has(flag)) {
      const value = eq > 0 ? word.slice(eq + 1) : list[i + 1];
      if (value !== undefined && isTsx(value)) {
        if (eq < 0) i++;
        continue;
      }
    }
    kept.push(word);
  }
  return kept.length ? kept.join(' ') : undefined;
}

/**
 * A value the runner puts in a child's environment (a title, a path): one line, no NUL or other control character
 * (a NUL makes spawn throw), at most LIMITS.envValueChars characters (one value over 128 KiB makes exec fail with
 * E2BIG). PATH_MAX is 4096, so a path is never cut.
 */
export function envValue(value: string): string {
  // Not oneLine: a path's own spaces are kept, each control character becomes one space.
  return capText(value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '), LIMITS.envValueChars);
}

/**
 * Environment for a spawned agent or gate: the runner's, plus `extra` (each value made safe by `envValue`), plus
 * WORK_MILESTONE_CHILD=1, without our tsx loader in any spelling.
 */
export function childEnv(env: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const safe = Object.fromEntries(Object.entries(extra).map(([name, value]) => [name, envValue(value)]));
  const out: NodeJS.ProcessEnv = { ...env, ...safe, WORK_MILESTONE_CHILD: '1' };
  for (const name of Object.keys(out)) {
    if (!NODE_OPTIONS_VARS.test(name)) continue;
    const options = stripTsxLoader(out[name]);
    if (options) out[name] = options;
    else delete out[name];
  }
  return out;
}

/** What an agent's push URLs become: a transport that does not exist, so the push fails and names it. */
const NO_PUSH = 'work-milestone-agents-do-not-push::';
/** The beginnings of every usual remote URL: paths, file, http(s), ssh, git, scp-like with the usual user. */
const PUSH_URL_PREFIXES = ['/', './', '../', 'file://', 'https://', 'http://', 'ssh://', 'git://', 'git@'];

/**
 * The environment of an agent: childEnv's, plus git configuration (`GIT_CONFIG_COUNT`, after any the user set) that
 * rewrites every push URL (`url.<x>.pushInsteadOf`) to a transport that does not exist. The runner merges and lands;
 * an agent's `git push` (a habit of coding agents) would reach origin, `main` included, with the user's credentials.
 * Fetching is untouched. An agent that sets out to push can unset it: the guards still see what reaches origin.
 */
export function agentEnv(env: NodeJS.ProcessEnv, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const out = childEnv(env, extra);
  const given = Number.parseInt(out.GIT_CONFIG_COUNT ?? '', 10);
  let n = Number.isSafeInteger(given) && given > 0 ? given : 0;
  for (const prefix of PUSH_URL_PREFIXES) {
    out[`GIT_CONFIG_KEY_${n}`] = `url.${NO_PUSH}.pushInsteadOf`;
    out[`GIT_CONFIG_VALUE_${n}`] = prefix;
    n++;
  }
  out.GIT_CONFIG_COUNT = String(n);
  return out;
}
