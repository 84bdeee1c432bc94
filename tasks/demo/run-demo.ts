/**
 * The offline demo: a sample project, the scripted model server, and a whole milestone run with the real claude CLI (or
 * the scripted agent).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Io } from '../cli/io.ts';
import { PACKAGE_ROOT } from '../lib/package-root.ts';
import { BadInputError } from '../lib/errors.ts';
import { findCommonDir } from '../lib/git.ts';
import { stateDirOf } from '../lib/paths.ts';
import { startModelServer } from './model-server.ts';
import { DEMO_ITEMS, createSampleProject } from './sample-project.ts';
import { demoAgent } from './scenario.ts';

/** Demo options. */
export interface DemoOptions {
  readonly agent: 'claude' | 'scripted';
  readonly dir: string | null;
  readonly json: boolean;
}

const slugOf = (title: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** The claude binary: CLAUDE_BIN, the package's own dev dependency, or PATH. */
function claudeBin(env: NodeJS.ProcessEnv): string {
  if (env.CLAUDE_BIN) return env.CLAUDE_BIN;
  const local = path.join(PACKAGE_ROOT, 'node_modules', '.bin', 'claude');
  return existsSync(local) ? local : 'claude';
}

/** The CLI's `run` command (tasks/cli/main.ts passes it in, so this module does not import the CLI's entry). */
export type RunMilestone = (args: readonly string[], io: Io) => Promise<number>;

/** Run the demo; returns the run's exit code. */
export async function runDemo(options: DemoOptions, io: Io, runMilestone: RunMilestone): Promise<number> {
  const root = options.dir
    ? path.resolve(io.cwd, options.dir)
    : mkdtempSync(path.join(os.tmpdir(), 'work-milestone-demo-'));
  const repo = path.join(root, 'demo-calc');
  if (existsSync(repo)) throw new BadInputError(`${repo} already exists; pass another --repo DIR`);
  mkdirSync(repo, { recursive: true });
  createSampleProject(repo, options.agent);
  io.err(`demo: sample project at ${repo}`);
  const server =
    options.agent === 'claude'
      ? await startModelServer(DEMO_ITEMS.map((i) => demoAgent(i, `work/1-${i.issue}-${slugOf(i.title)}`)))
      : null;
  const home = path.join(root, 'claude-home');
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = server
    ? {
        ...io.env,
        CLAUDE_BIN: claudeBin(io.env),
        ANTHROPIC_BASE_URL: server.url,
        ANTHROPIC_API_KEY: 'offline-demo',
        HOME: home,
        CLAUDE_CONFIG_DIR: path.join(home, '.claude'),
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
        CLAUDE_CODE_MAX_RETRIES: '2',
      }
    : io.env;
  if (server) io.err(`demo: real claude CLI (${env.CLAUDE_BIN}) against the scripted model server at ${server.url}`);
  try {
    const code = await runMilestone(['1', '--repo', repo, '--yes', ...(options.json ? ['--json'] : [])], {
      ...io,
      env,
    });
    const stateDir = stateDirOf(await findCommonDir(repo), '1');
    io.err(`demo: repository ${repo}\ndemo: report ${path.join(stateDir, 'report.md')}\ndemo: exit ${code}`);
    return code;
  } finally {
    await server?.close();
  }
}
