/**
 * A folder tree's fingerprint from the file system alone: every entry's path and stat (inode, mode, size, mtime,
 * and ctime for a file with one link; a folder's inode and mode), hashed in a stable order. Any write, replacement,
 * new or removed entry changes it; ctime cannot be set back by a user process, so an edit whose mtime was set back
 * still shows, except in a file with more than one link (below).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import path from 'node:path';

/** What a tree looked like: how many entries, their digest, and the newest ctime of a file in it (ms). */
export interface TreeStamp {
  readonly entries: number;
  readonly digest: string;
  /** Absent in stamps of older records. */
  readonly newestMs?: number;
}

/** An entry (not a folder) changed after `since`: its path (`/`-separated, from the root) and ctime (ms). */
export interface ChangedEntry {
  readonly path: string;
  readonly at: number;
}

/** A stamp with the entries changed after `since`. */
export interface TreeWalk extends TreeStamp {
  readonly changed: readonly ChangedEntry[];
}

/** Options of `stampTree`. */
export interface StampOptions {
  /** Subtrees left out (caches): `rel` is `/`-separated from the root. */
  readonly skip?: (rel: string, name: string) => boolean;
  /** Entries whose ctime (ms since the epoch) is after this are named in `changed`. */
  readonly since?: number;
}

/**
 * A folder by its inode and mode only: its times change with every entry added or removed in it, a skipped cache's
 * too, and the entries themselves are in the stamp. A file with more than one link without its ctime: pnpm, uv and
 * bun link package files from a store shared by every project, and linking one anywhere changes its ctime (an edit
 * in place with its mtime set back is then out of sight).
 */
const line = (rel: string, s: BigIntStats) =>
  s.isDirectory()
    ? `${rel}\0${s.ino}\0${s.mode}\n`
    : `${rel}\0${s.ino}\0${s.mode}\0${s.size}\0${s.mtimeNs}\0${s.nlink > 1n ? '' : s.ctimeNs}\n`;

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'error';

/**
 * Walk `root` (followed when it is a link; links inside are not) and stamp it; null when there is no folder there.
 * An entry that cannot be read (no permission, gone or replaced meanwhile) is stamped as that. Synchronous: one pass
 * of `lstat` calls (about 6 µs an entry here), with nothing to interleave that could see the tree half-read.
 */
export function stampTree(root: string, options: StampOptions = {}): TreeWalk | null {
  let top: BigIntStats | undefined;
  try {
    top = statSync(root, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    // Unreadable (no permission on a folder above): a folder whose content is unknown is no trusted folder.
    return { entries: 0, digest: `!${codeOf(error)}`, changed: [] };
  }
  if (!top?.isDirectory()) return null;
  const hash = createHash('sha256');
  const changed: ChangedEntry[] = [];
  const since = options.since === undefined ? null : BigInt(Math.floor(options.since)) * 1_000_000n;
  let entries = 0;
  let newest = 0n;
  const note = (rel: string, s: BigIntStats) => {
    entries += 1;
    hash.update(line(rel, s));
    if (s.isDirectory()) return;
    if (s.ctimeNs > newest) newest = s.ctimeNs;
    if (since !== null && s.ctimeNs > since) changed.push({ path: rel, at: Number(s.ctimeNs / 1_000_000n) });
  };
  note('', top);
  const walk = (dir: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (error) {
      // Unreadable (a folder made so on purpose, or gone meanwhile): that is part of the stamp.
      hash.update(`${rel}\0!${codeOf(error)}\n`);
      return;
    }
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (options.skip?.(childRel, name)) continue;
      const child = path.join(dir, name);
      let s: BigIntStats | undefined;
      try {
        s = lstatSync(child, { bigint: true, throwIfNoEntry: false });
      } catch (error) {
        // No search permission on its folder, or the folder replaced by a file meanwhile (ENOTDIR).
        hash.update(`${childRel}\0!${codeOf(error)}\n`);
        continue;
      }
      if (!s) {
        hash.update(`${childRel}\0gone\n`);
        continue;
      }
      note(childRel, s);
      if (s.isDirectory()) walk(child, childRel);
    }
  };
  walk(root, '');
  return {
    entries,
    digest: hash.digest('hex').slice(0, 32),
    newestMs: Number(newest / 1_000_000n),
    changed,
  };
}
