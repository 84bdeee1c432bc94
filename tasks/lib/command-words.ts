/** Commands in hints, in the words the user typed: through the package's bin or through a script of a checkout. */

/** How a command was started: `npx work-milestone <command>` (the bin) or `npx zx scripts/<command>.mts` (a script). */
export type Entry = 'bin' | 'script';

/**
 * The command line that runs `command` with `args`, as the user would type it again:
 * `npx work-milestone run 7 --stop` or `npx zx scripts/run.mts 7 --stop`.
 */
export function commandLine(
  entry: Entry | undefined,
  command: string,
  args: readonly (string | number)[] = [],
): string {
  const head = entry === 'bin' ? `npx work-milestone ${command}` : `npx zx scripts/${command}.mts`;
  return [head, ...args.map(String)].join(' ');
}

/** The usage line of a command: `usage: npx work-milestone step <step> <N> [flags]; see --help`. */
export function usageLine(entry: Entry | undefined, command: string, args: readonly string[]): string {
  return `usage: ${commandLine(entry, command, args)}; see --help`;
}
