/** The backlog interface: where a milestone's items live. */

/** Status of a backlog item. */
export type BacklogStatus = 'open' | 'in-progress' | 'done' | 'blocked';

/** One backlog item as the backlog holds it. */
export interface BacklogItem {
  readonly issue: number;
  readonly title: string;
  readonly status: BacklogStatus;
  readonly milestone: number | string | null;
  readonly priority: string | null;
  readonly groomed: boolean;
  readonly labels: readonly string[];
  readonly dependsOn: readonly number[];
  /** Markdown body; `## ` sections split out in `sections` (keyed by heading text). */
  readonly body: string;
  readonly sections: Readonly<Record<string, string>>;
  /** Where the item came from, for messages (`plan/backlog/42.md`). */
  readonly source: string;
}

/** What creating an item needs; the backlog picks the number. */
export interface NewBacklogItem {
  readonly title: string;
  readonly milestone: number | string;
  readonly priority?: string;
  readonly labels?: readonly string[];
  readonly dependsOn?: readonly number[];
  /** `## ` sections in order, e.g. {Description: '…', 'Acceptance Criteria': '…'}. */
  readonly sections: Readonly<Record<string, string>>;
  /**
   * A line written at the end of the body (an HTML comment); an item of the milestone whose body holds it already is
   * returned instead of creating another, so an item created by a run that crashed before recording it is found.
   */
  readonly marker?: string;
}

/** A backlog backend: the file backlog, or GitHub Issues (docs/github.md). */
export interface Backlog {
  readonly kind: 'file' | 'github';
  /** One item, or undefined when it does not exist. */
  readItem(issue: number): Promise<BacklogItem | undefined>;
  /** Every item of a milestone, ordered by issue number. */
  listItems(milestone: number | string): Promise<readonly BacklogItem[]>;
  /**
   * Create an item with a number no other item has (nor, in one repository, another milestone's new item); returns it.
   */
  createItem(item: NewBacklogItem): Promise<BacklogItem>;
  /** Change an item's status; returns the paths it changed (file backlog) so callers can commit them. */
  setStatus(issue: number, status: BacklogStatus): Promise<readonly string[]>;
  /**
   * Close a landed item, saying which commit landed it (GitHub: a comment and the issue closed; files: status done).
   * Idempotent: an item closed already is left alone. Returns the paths it changed (file backlog).
   */
  closeItem(issue: number, landedSha: string): Promise<readonly string[]>;
  /** Close the milestone when none of its items is open any more; whether it is closed (or complete) now. */
  closeMilestone(milestone: number | string): Promise<boolean>;
}

/** The body line that carries a marker: an HTML comment, invisible where the body is rendered. */
export function markerLine(marker: string): string {
  return `<!-- ${marker.replace(/-->/g, '')} -->`;
}

/**
 * How many items of a backlog a step reads or writes at once: files side by side (one after another, a 200-item
 * milestone waited a second or more on them), GitHub requests few enough for its secondary rate limits.
 */
export const BACKLOG_READS_AT_ONCE = 8;
