/** What the scripted model answers the real claude CLI for each demo item: the same edits, as tool calls. */
import type { ScriptStep, ScriptedAgent } from './model-server.ts';
import type { DemoItem } from './sample-project.ts';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The tool calls and final report of one item's agent. */
export function demoAgent(item: DemoItem, branch: string): ScriptedAgent {
  const steps: ScriptStep[] = [];
  for (const edit of item.edits) {
    if (edit.content !== undefined) steps.push({ tool: 'Write', input: { file_path: edit.path, content: edit.content } });
    if (edit.append !== undefined) steps.push({ tool: 'Bash', input: { command: `printf '%s' ${quote(edit.append)} >> ${quote(edit.path)}` } });
  }
  steps.push({ tool: 'Bash', input: { command: `git add -A && git commit -q -m ${quote(`feat: ${item.title} (#${item.issue})`)}` } });
  const files = [...new Set(item.edits.map((e) => e.path))];
  steps.push({
    text: `Done.\n\nSTATUS: COMPLETE\nBRANCH: ${branch}\nFILES_CHANGED:\n${files.join('\n')}\nCOMMITS:\nfeat: ${item.title} (#${item.issue})\nTASKS_BLOCKED: none\nNOTES: implemented ${item.title.toLowerCase()} as described; tests added where it has code.`,
  });
  return { match: `Issue #${item.issue}:`, steps };
}
