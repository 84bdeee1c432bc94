/** Closed hierarchy of errors that carry the exit codes of docs/errors.md. */

/** Base of every error the product throws on purpose; `exitCode` is what the script exits with. */
export abstract class WorkMilestoneError extends Error {
  abstract readonly exitCode: 1 | 2 | 3 | 130;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad input: invalid plan or flags, unknown step, a prerequisite not done (exit 2). */
export class BadInputError extends WorkMilestoneError {
  override readonly name = 'BadInputError';
  readonly exitCode = 2 as const;
}

/** A step failed: git error, gates still red after fix attempts (exit 1). */
export class StepFailedError extends WorkMilestoneError {
  override readonly name = 'StepFailedError';
  readonly exitCode = 1 as const;
}

/** Needs a human: an item failed or was escalated (exit 3). */
export class NeedsAttentionError extends WorkMilestoneError {
  override readonly name = 'NeedsAttentionError';
  readonly exitCode = 3 as const;
}

/** Interrupted by SIGINT or SIGTERM (exit 130). */
export class InterruptedError extends WorkMilestoneError {
  override readonly name = 'InterruptedError';
  readonly exitCode = 130 as const;
}

/**
 * The same error (its class, so its exit code) with `detail` added on new lines: a failed step that also left items
 * needing attention says both (docs/errors.md, "Several things went wrong").
 */
export function withDetail(error: WorkMilestoneError, detail: string): WorkMilestoneError {
  // The base class of its exit code: a subclass may take other constructor arguments (DiagnosticsError).
  const message = `${error.message}\n${detail}`;
  switch (error.exitCode) {
    case 1:
      return new StepFailedError(message, { cause: error });
    case 2:
      return new BadInputError(message, { cause: error });
    case 3:
      return new NeedsAttentionError(message, { cause: error });
    case 130:
      return new InterruptedError(message, { cause: error });
  }
}

/** Exit code for any error: ours carry one, anything else is a failed step. */
export function exitCodeOf(error: unknown): number {
  return error instanceof WorkMilestoneError ? error.exitCode : 1;
}

/** Exhaustiveness guard for discriminated unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
