/**
 * Files of the repository, not config, that change what the runner's merges do without running a program, trusted
 * as they were when the milestone started beside the config (`config-guard.ts`). Each is kept among the trusted keys
 * under its own name (no config key has a slash), as values a change is told by: a value none of the trusted ones
 * had stops the runner, one that went away does not.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { statKey } from './git-setup-guard.ts';
import { hashRegularFileSync, readRegularFileHeadSync } from '../lib/regular-file.ts';

/** One watched file: where it is, its values now, and what a new value means (the end of a sentence). */
export interface TrustedFile {
  readonly key: string;
  readonly file: string;
  values(): readonly string[];
  /** The sentence that stops the runner, from "<file> …" on. */
  readonly why: string;
}

/** Past this size a file is told apart by its stat, not read (an agent can make it as big as the disk). */
const MAX_READ_BYTES = 16 * 1024 * 1024;

/** A file's content hash as its one value (none without the file); by stat when it is big or no regular file. */
function fingerprint(file: string): string[] {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return [];
  if (!stat.isFile() || stat.size > MAX_READ_BYTES) return [`stat:${statKey(file) ?? 'gone'}`];
  try {
    return [hashRegularFileSync(file).sha256.slice(0, 16)];
  } catch (error) {
    return [`unreadable:${(error as NodeJS.ErrnoException).code ?? 'error'}`];
  }
}

/** The commits a shallow file lists, one value each: lines added are new values, lines removed (unshallow) are not. */
function shallowCommits(file: string): string[] {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return [];
  if (!stat.isFile() || stat.size > MAX_READ_BYTES) return fingerprint(file);
  try {
    return readRegularFileHeadSync(file, MAX_READ_BYTES)
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  } catch {
    return fingerprint(file);
  }
}

/** The files of the repository at `commonDir` that are trusted beside its config. */
export function trustedFiles(commonDir: string): readonly TrustedFile[] {
  const attributes = path.join(commonDir, 'info', 'attributes');
  const shallow = path.join(commonDir, 'shallow');
  return [
    {
      // Above every `.gitattributes`: one line, `* merge=union`, turns every conflict into a "clean" merge of both
      // sides' lines, which no conflict class or escalation would ever see.
      key: 'info/attributes',
      file: attributes,
      values: () => fingerprint(attributes),
      why:
        'it says how the runner\'s git merges each file (`merge=union` makes a conflict a "clean" merge of both ' +
        "sides' lines)",
    },
    {
      // A commit listed there has no parents for git: a merge then finds an older base (one that can bring back a
      // file a side deleted) or none. A shallow clone needs the file, so it is read, and only lines added stop.
      key: 'shallow',
      file: shallow,
      values: () => shallowCommits(shallow),
      why: 'the commits it gained lose their parents for git, so a merge finds an older base than the real one, or none',
    },
  ];
}
