/**
 * Where a running node shows itself. The walker may start a node before the renderer has drawn its line (the tree
 * shows a wave once the one before it ended), so what a node says before then is kept and shown when its line
 * appears: the last output line, a new title, a skip.
 */

/** The part of a listr2 task a node writes to. */
export interface TaskLike {
  output: string;
  title: string;
  skip(message?: string): void;
}

/** What a node says about itself. */
export interface NodeView {
  output(line: string): void;
  title(title: string): void;
  skip(message: string): void;
}

/** Views of the nodes of one run, keyed by node id. */
export interface NodeViews {
  viewOf(id: string): NodeView;
  /** The renderer drew the node's line: show what it said so far, and pass on what it says next. */
  attach(id: string, task: TaskLike): void;
  /** Whether the node was skipped (found done) by what it said. */
  skipped(id: string): boolean;
}

interface Said {
  task?: TaskLike;
  output?: string;
  title?: string;
  skip?: string;
}

/** Views for one run. */
export function createNodeViews(): NodeViews {
  const said = new Map<string, Said>();
  const entry = (id: string): Said => {
    let e = said.get(id);
    if (!e) said.set(id, (e = {}));
    return e;
  };
  return {
    viewOf(id) {
      const e = entry(id);
      return {
        output(line) {
          e.output = line;
          if (e.task) e.task.output = line;
        },
        title(title) {
          e.title = title;
          if (e.task) e.task.title = title;
        },
        skip(message) {
          e.skip = message;
          e.task?.skip(message);
        },
      };
    },
    attach(id, task) {
      const e = entry(id);
      e.task = task;
      if (e.title !== undefined) task.title = e.title;
      if (e.output !== undefined) task.output = e.output;
      if (e.skip !== undefined) task.skip(e.skip);
    },
    skipped: (id) => said.get(id)?.skip !== undefined,
  };
}
