/**
 * An agent's last activity, from the tail of its output: one line of at most 120 characters for `status` and the
 * live board (pure). Claude's JSON (and stream-json) and codex's JSON lines say what the model did last (its text or
 * the tool it called); other agents' output is plain text: its last non-empty line.
 */
import { oneLine, stripControl } from '../lib/bounded-text.ts';
import type { AgentKind } from '../lib/plan/types.ts';

/** The longest line returned. */
export const ACTIVITY_CHARS = 120;

/** How much of the tail's end is looked at: an agent's one line may be megabytes. */
const LOOK_CHARS = 64 * 1024;

/** A JSON object, or null (not JSON, an array, a line cut at the front of the tail). */
function parseObject(line: string): Record<string, unknown> | null {
  const text = line.trim();
  if (!text.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);
const obj = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

/** The last line of a text that has something on it. */
function lastLine(text: string): string | null {
  const lines = stripControl(text)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? null;
}

/** `Bash: npm test`, `Edit src/a.ts`: a tool call by its name and the argument that says most. */
function describeTool(name: string, input: Record<string, unknown> | null): string {
  const arg =
    str(input?.command) ?? str(input?.file_path) ?? str(input?.path) ?? str(input?.pattern) ?? str(input?.url);
  return arg ? `${name}: ${lastLine(arg) ?? arg}` : name;
}

/** What one claude JSON object (a `--output-format json` result, a stream-json event) says was done last. */
function claudeActivity(event: Record<string, unknown>): string | null {
  if (event.type === 'result') return lastLine(str(event.result) ?? '') ?? str(event.subtype);
  if (event.type !== 'assistant') return null;
  const content = obj(event.message)?.content;
  if (!Array.isArray(content)) return null;
  for (const block of [...content].reverse()) {
    const b = obj(block);
    if (b?.type === 'tool_use' && str(b.name)) return describeTool(b.name as string, obj(b.input));
    if (b?.type === 'text' && str(b.text)) return lastLine(b.text as string);
  }
  return null;
}

/** What one codex JSON line says was done last. */
function codexActivity(event: Record<string, unknown>): string | null {
  const item = obj(event.item);
  if (item) {
    switch (item.type) {
      case 'agent_message':
        return lastLine(str(item.text) ?? '');
      case 'command_execution':
        return str(item.command) ? `$ ${lastLine(item.command as string)}` : null;
      case 'file_change': {
        const changes = Array.isArray(item.changes) ? item.changes : [];
        const paths = changes.map((c) => str(obj(c)?.path)).filter(Boolean);
        return paths.length ? `edit ${paths.join(', ')}` : 'file change';
      }
      default:
        return str(item.text) ? lastLine(item.text as string) : null;
    }
  }
  if (event.type === 'error' || event.type === 'turn.failed')
    return str(event.message) ?? str(obj(event.error)?.message);
  return null;
}

/** One line, bounded. */
function bounded(text: string): string {
  const line = oneLine(stripControl(text));
  return line.length > ACTIVITY_CHARS ? `${line.slice(0, ACTIVITY_CHARS - 1)}…` : line;
}

/**
 * The last activity `tail` (the end of an agent's stdout, or stderr when stdout says nothing) shows for an agent of
 * kind `agent`, as one line of at most 120 characters; null when it shows none.
 */
export function lastActivity(tail: string, agent: AgentKind): string | null {
  const text = tail.length > LOOK_CHARS ? tail.slice(-LOOK_CHARS) : tail;
  const lines = text.split('\n');
  if (agent === 'claude' || agent === 'codex') {
    for (let i = lines.length - 1; i >= 0; i--) {
      const event = parseObject(lines[i] as string);
      if (!event) continue;
      const found = agent === 'claude' ? claudeActivity(event) : codexActivity(event);
      if (found) return bounded(found);
    }
    // Not JSON (an error printed before any event): its last line.
  }
  const line = lastLine(text);
  return line ? bounded(line) : null;
}
