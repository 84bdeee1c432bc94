/**
 * A git the runner started that waits on a named pipe. Agents run as the runner's user and can put a FIFO where git
 * reads a file (a `.gitignore` in a worktree, `.git/packed-refs`): git's `open` then waits for a writer that never
 * comes, and the call would sit out its whole time limit (10 minutes) on every try, each run again. (With a writer
 * holding the other end git reads the pipe's size, 0, and goes on.) Git itself never opens a named pipe of a worktree
 * (it lists one as a special file), so a git found waiting to open one is stuck for good.
 * Linux only (/proc); elsewhere nothing is found and the time limit stays the bound.
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import path from 'node:path';

/** `openat`'s syscall number where /proc/<pid>/syscall names it (the path is its second argument). */
const OPENAT: Readonly<Partial<Record<NodeJS.Architecture, number>>> = { x64: 257, arm64: 56 };

/** The processes of a git call: `pid` and what it started (`worktree add` runs `git reset`, a fetch its helper). */
function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length && out.length < 64) {
    const p = queue.shift() as number;
    out.push(p);
    try {
      queue.push(
        ...readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
      );
    } catch {
      // gone, or no children file on this kernel: its own waits are still looked at
    }
  }
  return out;
}

/** The path `pid` is opening right now (from its syscall arguments and memory), or null when that cannot be read. */
function pathBeingOpened(pid: number): string | null {
  try {
    const [nr, dirfd, pointer] = readFileSync(`/proc/${pid}/syscall`, 'utf8').trim().split(' ');
    if (Number(nr) !== OPENAT[process.arch] || pointer === undefined) return null;
    const mem = openSync(`/proc/${pid}/mem`, 'r');
    let name: string;
    try {
      const buffer = Buffer.alloc(4096);
      const n = readSync(mem, buffer, 0, buffer.length, BigInt(pointer));
      const end = buffer.subarray(0, n).indexOf(0);
      if (end < 0) return null;
      name = buffer.subarray(0, end).toString('utf8');
    } finally {
      closeSync(mem);
    }
    if (path.isAbsolute(name)) return name;
    // AT_FDCWD (-100, as the kernel prints it) or a directory descriptor.
    const base = BigInt.asIntN(32, BigInt(dirfd ?? '0')) === -100n ? 'cwd' : `fd/${BigInt(dirfd ?? '0')}`;
    return path.join(readlinkSync(`/proc/${pid}/${base}`), name);
  } catch {
    return null;
  }
}

/**
 * Whether the git call `pid` (or a process it started) waits to open a named pipe: "waits to open the named pipe
 * <path>" (the path when /proc shows it), or null when none does (or /proc cannot tell).
 */
export function namedPipeWait(pid: number): string | null {
  for (const p of processTree(pid)) {
    let wchan: string;
    try {
      wchan = readFileSync(`/proc/${p}/wchan`, 'utf8').trim();
    } catch {
      continue;
    }
    // fifo_open() waiting for the other end: a reader opening a pipe that has no writer.
    if (wchan === 'wait_for_partner') {
      const file = pathBeingOpened(p);
      return file ? `waits to open the named pipe ${file}` : 'waits to open a named pipe';
    }
  }
  return null;
}

/** How long a git call runs before the runner first looks whether it waits on a named pipe, and between looks. */
export const PIPE_LOOK_MS = 2000;

/**
 * Look every PIPE_LOOK_MS whether the git call `pid` waits to open a named pipe, and call `onStuck` once with what
 * `namedPipeWait` said when it does. Returns what stops the looking (call it when git has ended).
 */
export function watchForPipeWait(pid: number | undefined, onStuck: (why: string) => void): () => void {
  if (pid === undefined || process.platform !== 'linux') return () => undefined;
  let timer = setTimeout(function look() {
    const why = namedPipeWait(pid);
    if (why) onStuck(why);
    else timer = setTimeout(look, PIPE_LOOK_MS);
  }, PIPE_LOOK_MS);
  return () => clearTimeout(timer);
}

/** The failure of a git call stopped because it waited to open a named pipe (`why` from `namedPipeWait`). */
export function pipeWaitMessage(args: readonly string[], cwd: string, why: string): string {
  const find = why.endsWith('a named pipe') ? ` (find ${cwd} -type p lists them)` : '';
  return (
    `git ${args.slice(0, 2).join(' ')} in ${cwd} ${why}${find}, which nothing writes: a named pipe put where git ` +
    'reads a file (by an agent?) would keep every git there waiting; git was stopped. Remove the pipe, then run again'
  );
}
