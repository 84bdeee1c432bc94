/**
 * `completion bash|zsh`: a shell completion script for `work-milestone` (commands, steps, flags, and the milestone
 * numbers of `plan/` in the repository around the current directory, read when completing).
 */
import { STEP_IDS } from '../engine/step.ts';
import { BadInputError } from '../lib/errors.ts';
import { didYouMean } from '../lib/did-you-mean.ts';
import { flagNames } from './flags.ts';
import type { Io } from './io.ts';
import type { Flags } from './flags.ts';
import { COMMAND_NAMES } from './help.ts';

const SHELLS = ['bash', 'zsh'] as const;

/** The bash function and its `complete -F` line; zsh loads it through bashcompinit. */
function bashScript(): string {
  return `# work-milestone completion (bash): source <(npx work-milestone completion bash)
_work_milestone() {
  local cur prev cmd top
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${COMMAND_NAMES.join(' ')} --help --version" -- "$cur"))
    return 0
  fi
  case "$prev" in
    --repo|--plan) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    --agent) COMPREPLY=($(compgen -W "claude codex command scripted" -- "$cur")); return 0 ;;
    --schedule) COMPREPLY=($(compgen -W "waves dag" -- "$cur")); return 0 ;;
    --land) COMPREPLY=($(compgen -W "direct pull-request" -- "$cur")); return 0 ;;
    --agent-command|--concurrency|--wave|--item) return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "${flagNames().join(' ')}" -- "$cur"))
    return 0
  fi
  top="$(git rev-parse --show-toplevel 2>/dev/null || pwd)"
  local milestones
  milestones="$(cd "$top/plan" 2>/dev/null && for f in milestone-*-dispatch.yaml; do [[ -e "$f" ]] && f="\${f#milestone-}" && echo "\${f%-dispatch.yaml}"; done)"
  case "$cmd" in
    step)
      if [[ $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=($(compgen -W "${STEP_IDS.join(' ')}" -- "$cur"))
      else
        COMPREPLY=($(compgen -W "$milestones" -- "$cur"))
      fi ;;
    run|plan|status|gates|reset) COMPREPLY=($(compgen -W "$milestones" -- "$cur")) ;;
    completion) COMPREPLY=($(compgen -W "${SHELLS.join(' ')}" -- "$cur")) ;;
  esac
  return 0
}
complete -F _work_milestone work-milestone
`;
}

/** zsh: the same function through zsh's bash completion emulation. */
function zshScript(): string {
  return `# work-milestone completion (zsh): source <(npx work-milestone completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript().split('\n').slice(1).join('\n')}`;
}

/** Print the completion script of `shell`. */
export function completionCommand(shell: string, _flags: Flags, io: Io): Promise<number> {
  if (shell === 'bash') io.out(bashScript());
  else if (shell === 'zsh') io.out(zshScript());
  else
    throw new BadInputError(
      `no completion for shell "${shell}"${didYouMean(shell, SHELLS) || '; shells are: bash, zsh'}`,
    );
  return Promise.resolve(0);
}
