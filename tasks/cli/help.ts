/** --help text of each script. */

const COMMON = `Common flags:
  --repo DIR            the repository (default: the one around the current directory)
  --plan FILE           the plan (default plan/milestone-<N>-dispatch.yaml)
  --help                this text
  --version             the version of work-milestone

Exit codes: 0 done, 1 a step failed, 2 bad input, 3 needs attention, 130 interrupted.`;

const RUN_FLAGS = `  --agent KIND          claude|codex|command|scripted (overrides the plan)
  --agent-command CMD   the command of agent "command"
  --executor KIND       local|github-actions|kubernetes: where item agents run (overrides the plan's executor.kind)
  --concurrency K       agents at once (default: the plan's, 3)
  --yes                 answer yes (stash a dirty working tree)
  --no-push             land on main without pushing to origin
  --fail-fast           stop at the first failed item
  --schedule S          (run) waves: wave after wave; dag: an item starts once what it
                        depends on merged (default: the plan's defaults.schedule, waves)
  --land MODE           direct: main moves by fast-forward and is pushed; pull-request: through a
                        GitHub pull request merged once its checks are green (default: the plan's
                        defaults.land, direct)
  --stop                (run) stop the milestone's live agents (left running by Ctrl-C or a crash,
                        found through their pid files even without a usable state) and exit
  --adopt               continue on an integration branch that has no state, or keep what a
                        guard stopped on (a git config change, a changed node_modules)
  --dry-run             print what is done and what would run (--json: as one JSON document);
                        changes nothing, creates nothing, takes no lock
  --json                JSON lines of events on stdout instead of the task tree; the last
                        line is the run's summary (docs/status.md)`;

/** Commands the scripts are. */
export type CommandName =
  | 'run'
  | 'step'
  | 'plan'
  | 'status'
  | 'demo'
  | 'gates'
  | 'list'
  | 'reset'
  | 'completion'
  | 'agent-job'
  | 'init-workflow';

/** Every command, in the order `--help` and completion show them. */
export const COMMAND_NAMES: readonly CommandName[] = [
  'run',
  'step',
  'plan',
  'status',
  'gates',
  'list',
  'reset',
  'completion',
  'demo',
  'init-workflow',
  'agent-job',
];

/** Help per command. */
export const HELP: Readonly<Record<CommandName, string>> = {
  run: `Usage: npx zx scripts/run.mts <N> [flags]
   or: npx work-milestone run <N> [flags]

Run milestone N: every step not yet done (validate, prepare, branch, fetch,
per wave worktrees/spawn/wait/merge/relay, gates, land, complete). After a
crash or Ctrl-C, run it again: it resumes where it stopped and re-attaches to
live agents. Failed and skipped items are retried.

${RUN_FLAGS}
${COMMON}`,
  step: `Usage: npx zx scripts/step.mts <step> <N> [--wave W] [--item ISSUE] [flags]
   or: npx work-milestone step <step> <N> [--wave W] [--item ISSUE] [flags]

Run one step of milestone N after checking its prerequisites (exit 2 naming
the missing one). Steps: validate prepare branch fetch worktrees spawn wait
merge relay gates land complete. Per-wave steps without --wave run for every
wave in order.

${RUN_FLAGS}
${COMMON}`,
  plan: `Usage: npx zx scripts/plan.mts <N> [--json | --mermaid] [--schedule waves|dag]
   or: npx work-milestone plan <N> [--json | --mermaid] [--schedule waves|dag]

Validate the plan of milestone N and print its compiled task graph as a tree,
as JSON (nodes and edges) or as a mermaid flowchart, for the plan's schedule
or --schedule. Changes nothing.

${COMMON}`,
  status: `Usage: npx zx scripts/status.mts <N> [--json] [--watch]
   or: npx work-milestone status <N> [--json] [--watch]

What is done, running and failed in milestone N: whether a runner is attached
and which steps it runs, each item's attempt, time, agent (alive, or exited and
not judged yet) and last activity, costs and tokens, red gates with their log,
what needs attention and the command that continues. Reads only.

  --json                the same as one JSON document (docs/status.md)
  --watch               show it again as it changes (a TTY is redrawn); Ctrl-C ends it

${COMMON}`,
  demo: `Usage: npx zx scripts/demo.mts [--agent claude|scripted] [--repo DIR] [--json]
   or: npx work-milestone demo [--agent claude|scripted] [--repo DIR] [--json]

Create a small sample project (a calculator with tests, a file backlog of 4
items, a 2-wave plan with gates) in a temporary folder (or under --repo DIR)
and run its whole milestone offline: by default with the real claude CLI
against a scripted model server on 127.0.0.1 (no key, no network), or with the
built-in scripted agent. Prints where the repository and the report are.`,
  'agent-job': `Usage: npx work-milestone agent-job <out-dir>

The job entry command of a remote agent (docs/executors.md): in a checkout of
the item's base commit, run the agent WM_JOB describes, push the item branch
WM_JOB_BRANCH, and write <out-dir>/result.json. The workflow init-workflow
writes runs it; you do not.`,
  'init-workflow': `Usage: npx work-milestone init-workflow [--repo DIR]

Write .github/workflows/work-milestone-agent.yml, the workflow the
github-actions executor dispatches (docs/executors.md); commit and push it.

${COMMON}`,
  gates: `Usage: npx zx scripts/gates.mts [<N>] [--all-files | --from-ref A --to-ref B]
       npx zx scripts/gates.mts [<N>] --install-hook | --uninstall-hook
   or: npx work-milestone gates … (the same arguments)

Run the plan's quality gates (pre-merge, then post-merge) in this checkout,
pre-commit style: a gate with files: runs only when the staged change touches
one of them (--all-files: every gate; --from-ref A --to-ref B: the change
A...B). Prints each gate's log; exit 1 at the first red gate. Without N, the
only plan in plan/ is used. --install-hook writes a git pre-commit hook that
runs this (core.hooksPath respected; a hook it did not write is never
replaced); --uninstall-hook removes it.

${COMMON}`,
  list: `Usage: npx zx scripts/list.mts [--repo DIR] [--json]
   or: npx work-milestone list [--repo DIR] [--json]

The milestones that have a plan (plan/milestone-<N>-dispatch.yaml) and their
state: not started, running (the runner's pid), needs attention, or landed.
Reads only.

${COMMON}`,
  reset: `Usage: npx zx scripts/reset.mts <N> [--yes] [--repo DIR]
   or: npx work-milestone reset <N> [--yes] [--repo DIR]

Stop the agents of milestone N and forget its state (.git/work-milestone/
milestone-<N>/), its worktrees, pins and merged branches, so that the next run
starts afresh. A branch whose commits are not on main is never deleted: it is
kept and named. Refuses while a runner holds the milestone's lock; asks first
unless --yes.

${COMMON}`,
  completion: `Usage: npx zx scripts/completion.mts bash|zsh
   or: npx work-milestone completion bash|zsh

Print a shell completion script for the work-milestone command (on PATH: a
global install, or node_modules/.bin in PATH): commands, steps, flags and the
milestone numbers of plan/. Install it with
  source <(npx work-milestone completion bash)     # in ~/.bashrc
  source <(npx work-milestone completion zsh)      # in ~/.zshrc

${COMMON}`,
};

/** `work-milestone --help` (the bin). */
export const BIN_HELP = `Usage: work-milestone <command> [args…]

Commands:
  run <N>             run milestone N: every step not yet done
  step <step> <N>     run one step, e.g. \`work-milestone step merge 7 --wave 2\`
  plan <N>            validate the plan and print the compiled graph; changes nothing
  status <N>          what is done, running, failed; costs and times
  gates [<N>]         run the quality gates locally (pre-commit style)
  list                the milestones with a plan, and their state
  reset <N>           stop the milestone's agents and forget its state (unmerged branches kept)
  completion bash|zsh print a shell completion script
  demo                a full run on a generated sample repository, offline
  init-workflow       write the workflow the github-actions executor dispatches
  agent-job <dir>     the job entry command of a remote agent (run by that workflow)

\`work-milestone <command> --help\` shows the flags of a command; \`work-milestone --version\` the version.
Exit codes: 0 done, 1 a step failed, 2 bad input, 3 needs attention, 130 interrupted.`;
