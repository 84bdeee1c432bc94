/**
 * What a remote job runs: the adapter's launch spec, the prompt and the agent's `WM_*` variables, carried in the
 * workflow's `job` input as base64 of gzipped JSON. Never the runner's environment: secrets reach the job from the
 * repository's secrets, not from here.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { LaunchSpec } from '../../agents/types.ts';
import { BadInputError } from '../../lib/errors.ts';
import type { AgentKind } from '../../lib/plan/types.ts';

/** GitHub takes at most 65,535 characters of inputs in all; the other inputs are short. */
export const MAX_JOB_CHARS = 60_000;

/** One agent run as a remote job sees it. */
export interface JobSpec {
  /** Correlation id. */
  readonly id: string;
  readonly agent: AgentKind;
  readonly file: string;
  readonly args: readonly string[];
  /** The adapter's own variables and the agent's `WM_*` ones (paths of this machine left out: the job sets its own). */
  readonly env: Readonly<Record<string, string>>;
  /** The prompt: on stdin when `stdin`, and in the file WM_PROMPT_FILE names either way. */
  readonly prompt: string;
  readonly stdin: boolean;
}

/** Variables that name places on the runner's machine: the job sets them to its own. */
const LOCAL_PATHS = new Set(['WM_PROMPT_FILE', 'WM_WORKTREE']);

/** The `WM_*` variables of an agent's environment that a remote job may carry. */
export function portableVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (name.startsWith('WM_') && !LOCAL_PATHS.has(name) && value !== undefined) out[name] = value;
  return out;
}

/** The spec of a launch and its prompt. */
export function jobSpecOf(
  id: string,
  agent: AgentKind,
  launch: LaunchSpec,
  prompt: string,
  env: NodeJS.ProcessEnv,
): JobSpec {
  return {
    id,
    agent,
    file: launch.file,
    args: [...launch.args],
    env: { ...portableVars(env), ...launch.env },
    prompt,
    stdin: launch.stdinFile !== undefined,
  };
}

/** The `job` input; bad input when it would not fit GitHub's limit. */
export function encodeJobSpec(spec: JobSpec): string {
  const text = gzipSync(JSON.stringify(spec)).toString('base64');
  if (text.length > MAX_JOB_CHARS)
    throw new BadInputError(
      `${spec.id}: the agent's prompt and command line take ${text.length} characters compressed; a workflow input ` +
        `takes at most ${MAX_JOB_CHARS}: shorten the item's text or run it with --executor local`,
    );
  return text;
}

/** The spec a `job` input carries; bad input when it is not one. */
export function decodeJobSpec(text: string): JobSpec {
  let value: unknown;
  try {
    value = JSON.parse(gunzipSync(Buffer.from(text.trim(), 'base64')).toString('utf8'));
  } catch (cause) {
    throw new BadInputError(`the job input is not a job the runner wrote (${(cause as Error).message})`, { cause });
  }
  const spec = value as Partial<JobSpec>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((a) => typeof a === 'string');
  if (
    typeof spec?.id !== 'string' ||
    typeof spec.agent !== 'string' ||
    typeof spec.file !== 'string' ||
    !strings(spec.args) ||
    typeof spec.env !== 'object' ||
    spec.env === null ||
    !Object.values(spec.env).every((v) => typeof v === 'string') ||
    typeof spec.prompt !== 'string' ||
    typeof spec.stdin !== 'boolean'
  )
    throw new BadInputError(
      'the job input lacks a field of a job the runner writes (id, agent, file, args, env, prompt, stdin)',
    );
  return spec as JobSpec;
}

/** What the job uploads as `result.json` (bounded: the output tails as the local executor reads them). */
export interface JobResult {
  readonly id: string;
  /** The agent's exit code. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** What the job pushed to the item branch (null: the push failed; `pushError` says why). */
  readonly pushed: string | null;
  readonly pushError: string | null;
  /** As the adapter parsed it in the job: for people reading the artifact; the runner parses the tails again. */
  readonly costUsd: number | null;
  readonly usage: Readonly<Record<string, unknown>> | null;
}

/** The result file's name inside the artifact. */
export const RESULT_FILE = 'result.json';

/** The artifact of run `id`. */
export function artifactNameOf(id: string): string {
  return `result-${id}`;
}

/**
 * Where the job also pushes its result, as a commit holding `result.json`: a run deleted or an artifact expired
 * still leaves it, so a restarted runner takes the attempt as done instead of dispatching it again.
 */
export function resultRefOf(id: string): string {
  return `refs/work-milestone/results/${id}`;
}

/** The run-name the workflow gives a run: how a run whose id was never recorded is found. */
export function runNameOf(id: string): string {
  return `work-milestone ${id}`;
}
