/** What a command writes to and how it asks questions; the scripts pass the real process streams. */
import { createInterface } from 'node:readline/promises';
import type { Entry } from '../lib/command-words.ts';

/** Output streams and environment of one command. */
export interface Io {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  readonly isTTY: boolean;
  confirm(question: string): Promise<boolean>;
  /** Aborted when stdout's reader went away (EPIPE: `run --json | head -1`); what is written after that is dropped. */
  readonly outClosed?: AbortSignal;
  /** How the user started the command, for hints in their words (`npx work-milestone …`); a script when absent. */
  readonly entry?: Entry;
}

/**
 * Watch a stream for the end of its reader: an EPIPE (or any write error) would otherwise be an uncaught 'error'
 * event, a stack trace. Returns whether it is closed. Writers other than `Io` (listr2's renderer) are covered too.
 */
function watchClosed(stream: NodeJS.WriteStream, onClose: () => void): () => boolean {
  let closed = false;
  stream.on('error', () => {
    if (closed) return;
    closed = true;
    onClose();
  });
  return () => closed || stream.destroyed;
}

/** The real process; `entry` says whether it was started through the bin or a script. */
export function processIo(entry: Entry = 'script'): Io {
  const outClosed = new AbortController();
  const stdoutClosed = watchClosed(process.stdout, () => outClosed.abort());
  const stderrClosed = watchClosed(process.stderr, () => undefined);
  return {
    cwd: process.cwd(),
    env: process.env,
    entry,
    out: (t) => {
      if (!stdoutClosed()) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    err: (t) => {
      if (!stderrClosed()) process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    isTTY: Boolean(process.stdout.isTTY),
    outClosed: outClosed.signal,
    async confirm(question) {
      // No TTY means no (docs/steps.md, prepare).
      if (!process.stdin.isTTY) return false;
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim());
      } finally {
        rl.close();
      }
    },
  };
}

/**
 * Resolves once `stream` has handed everything written to it to the system (or can take no more: its reader is gone).
 */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
    // 'drain' comes only after a write that filled the buffer: an empty write's callback runs once all before it
    // were handed over, whatever their size (status of 500 items left 25 KiB queued and no 'drain' coming).
    stream.write('', () => done());
  });
}

/**
 * Before a script exits: a pipe takes 64 KiB at once and node queues the rest, which `process.exit` would drop
 * (`plan --json | wc -c` said 65536); wait until stdout and stderr have written it all.
 */
export async function flushOutput(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
}
