/** The real `kubectl` (KUBECTL, else on PATH), with the runner's environment (KUBECONFIG): what the executor runs. */
import { execFile } from 'node:child_process';
import { BadInputError, StepFailedError } from '../../lib/errors.ts';
import { failureLines } from '../../lib/git.ts';

/** What one kubectl call gave. */
export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run kubectl; `input` on stdin. A missing kubectl is bad input. */
export function kubectl(env: NodeJS.ProcessEnv, args: readonly string[], input?: string): Promise<KubectlResult> {
  const file = env.KUBECTL?.trim() || 'kubectl';
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      [...args],
      { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = (error as NodeJS.ErrnoException | null)?.code;
        if (code === 'ENOENT')
          return reject(
            new BadInputError(
              `executor kubernetes: ${file} was not found; install kubectl (Debian: kubernetes-client) or set KUBECTL`,
            ),
          );
        resolve({ code: error ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Run kubectl; a failure is a failed step with kubectl's words. */
export async function kubectlOk(env: NodeJS.ProcessEnv, args: readonly string[], input?: string): Promise<string> {
  const out = await kubectl(env, args, input);
  if (out.code !== 0)
    throw new StepFailedError(
      `kubectl ${args.slice(0, 3).join(' ')} failed: ${failureLines(out.stderr || out.stdout, 3)}`,
    );
  return out.stdout;
}
