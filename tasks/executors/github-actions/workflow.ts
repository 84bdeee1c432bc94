/**
 * The workflow file the `github-actions` executor dispatches (`work-milestone init-workflow` writes it;
 * docs/executors.md). Every input has a description; secrets come from the repository, never from inputs; the run
 * step sees inputs only through environment variables (no `${{ }}` inside a script: no injection).
 */

/** Where `init-workflow` writes it, and the `workflow` setting's default. */
export const WORKFLOW_FILE = 'work-milestone-agent.yml';

/** What the generated workflow can vary. */
export interface WorkflowOptions {
  /** The runner label (`ubuntu-latest`, a self-hosted label). */
  readonly runsOn: string;
  /** Repository secrets passed to the agent as variables of the same name. */
  readonly secrets: readonly string[];
  /** The tool's version the job installs (`npx work-milestone@<version>`) unless the WORK_MILESTONE variable says. */
  readonly version: string;
}

/** The defaults: Anthropic's and OpenAI's keys, GitHub's hosted Ubuntu runner. */
export const DEFAULT_WORKFLOW: Omit<WorkflowOptions, 'version'> = {
  runsOn: 'ubuntu-latest',
  secrets: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY'],
};

/** The workflow's text. */
export function workflowText(options: WorkflowOptions): string {
  const secrets = options.secrets.map((s) => `          ${s}: \${{ secrets.${s} }}`).join('\n');
  return `# Written by \`work-milestone init-workflow\` (docs/executors.md). The runner dispatches one run per item attempt.
name: work-milestone agent
run-name: work-milestone \${{ inputs.correlation-id }}

on:
  workflow_dispatch:
    inputs:
      milestone:
        description: The milestone the item belongs to
        required: true
        type: string
      issue:
        description: The item's issue number
        required: true
        type: string
      attempt:
        description: The attempt number (1 for the first)
        required: true
        type: string
      base-sha:
        description: The integration commit the item starts from (the runner pushed it)
        required: true
        type: string
      branch:
        description: The item branch the job pushes its commits to
        required: true
        type: string
      correlation-id:
        description: <milestone>-<issue>-item-<attempt>; names the run and its result artifact
        required: true
        type: string
      timeout-minutes:
        description: The item's timeout, in minutes
        required: false
        type: number
        default: 45
      job:
        description: The agent's command line and prompt as the runner wrote them (base64 of gzipped JSON)
        required: true
        type: string

permissions:
  contents: write

concurrency:
  group: work-milestone-\${{ inputs.milestone }}-\${{ inputs.issue }}
  cancel-in-progress: false

jobs:
  agent:
    runs-on: ${options.runsOn}
    timeout-minutes: \${{ inputs.timeout-minutes }}
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ inputs.base-sha }}
          fetch-depth: 0
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - name: Run the agent
        env:
          WM_JOB: \${{ inputs.job }}
          WM_JOB_BRANCH: \${{ inputs.branch }}
          WM_JOB_ID: \${{ inputs.correlation-id }}
          WORK_MILESTONE: \${{ vars.WORK_MILESTONE || 'npx --yes work-milestone@${options.version}' }}
${secrets}
        run: |
          git config user.name "work-milestone"
          git config user.email "work-milestone@users.noreply.github.com"
          $WORK_MILESTONE agent-job "$RUNNER_TEMP/work-milestone-result"
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: result-\${{ inputs.correlation-id }}
          path: \${{ runner.temp }}/work-milestone-result/result.json
          retention-days: 7
`;
}
