/** Closed hierarchy of errors that carry the exit codes of docs/errors.md. */

/** Base of every error the product throws on purpose; `exitCode` is what the script exits with. */
export abstract class WorkMilestoneError extends Error {
  abstract readonly exitCode: 1 | 2 | 3 | 130;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The base of the errors that exit with `exitCode`: each kind below is one, named for messages and logs. */
function exitingWith<const Code extends WorkMilestoneError['exitCode']>(name: string, exitCode: Code) {
  return class extends WorkMilestoneError {
    override readonly name: string = name;
    readonly exitCode: Code = exitCode;
  };
}

/** Bad input: invalid plan or flags, unknown step, a prerequisite not done (exit 2). */
export class BadInputError extends exitingWith('BadInputError', 2) {}

/** A step failed: git error, gates still red after fix attempts (exit 1). */
export class StepFailedError extends exitingWith('StepFailedError', 1) {}

/** Needs a human: an item failed or was escalated (exit 3). */
export class NeedsAttentionError extends exitingWith('NeedsAttentionError', 3) {}

/** Interrupted by SIGINT or SIGTERM (exit 130). */
export class InterruptedError extends exitingWith('InterruptedError', 130) {}

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
