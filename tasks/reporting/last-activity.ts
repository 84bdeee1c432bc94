/**
 * What an agent did last, from the tail of its output (pure): the live board shows it under a running item, `status`
 * next to it. One line of at most ACTIVITY_CHARS characters, or null when the tail says nothing yet.
 */
import { oneLine } from '../lib/bounded-text.ts';
import type { AgentKind } from '../lib/plan/types.ts';

/** The longest activity line. */
export const ACTIVITY_CHARS = 120;

type Json = Readonly<Record<string, unknown>>;

function asObject(value: unknown): Json | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
}

function parseJsonLine(line: string): Json | null {
  if (!line.startsWith('{')) return null;
  try {
    return asObject(JSON.parse(line));
  } catch {
    return null;
  }
}

/** The last non-blank line of a text, or null. */
function lastLineOf(text: string): string | null {
  const lines = text.split('\n').map(oneLine).filter(Boolean);
  return lines.at(-1) ?? null;
}

/** The first string among `keys` of an object (a tool's input: its command, its file). */
function firstString(obj: Json | null, keys: readonly string[]): string | null {
  for (const key of keys) {
    const v = obj?.[key];
    if (typeof v === 'string' && v.trim()) return v;
  }
  return null;
}

const TOOL_ARGS = ['command', 'file_path', 'path', 'pattern', 'url', 'description', 'prompt'] as const;

/** claude's stream-json: the last assistant text or tool call; the final result. Null: a line to look past. */
function claudeActivity(ev: Json): string | null {
  if (ev.type === 'result') return typeof ev.result === 'string' ? `result: ${lastLineOf(ev.result) ?? ''}` : null;
  if (ev.type !== 'assistant') return null;
  const content = asObject(ev.message)?.content;
  if (!Array.isArray(content)) return null;
  for (const part of [...content].reverse()) {
    const p = asObject(part);
    if (p?.type === 'tool_use' && typeof p.name === 'string') {
      const arg = firstString(asObject(p.input), TOOL_ARGS);
      return arg ? `${p.name}: ${arg}` : p.name;
    }
    if (p?.type === 'text' && typeof p.text === 'string') {
      const line = lastLineOf(p.text);
      if (line) return line;
    }
  }
  return null;
}

/** codex's `exec --json`: the last command, message or file change. Null: a line to look past. */
function codexActivity(ev: Json): string | null {
  if (ev.type === 'error' || ev.type === 'turn.failed') {
    const message = typeof ev.message === 'string' ? ev.message : firstString(asObject(ev.error), ['message']);
    return message ? `error: ${message}` : null;
  }
  if (ev.type !== 'item.started' && ev.type !== 'item.completed') return null;
  const item = asObject(ev.item);
  switch (item?.type) {
    case 'command_execution':
      return typeof item.command === 'string' ? `$ ${item.command}` : null;
    case 'agent_message':
    case 'reasoning':
      return typeof item.text === 'string' ? lastLineOf(item.text) : null;
    case 'file_change': {
      const changes = Array.isArray(item.changes) ? item.changes.map((c) => firstString(asObject(c), ['path'])) : [];
      const files = changes.filter((c): c is string => c !== null);
      return files.length ? `edit ${files.join(', ')}` : 'file change';
    }
    case 'mcp_tool_call':
      return `tool: ${firstString(item, ['tool', 'server']) ?? '?'}`;
    case 'web_search':
      return `search: ${firstString(item, ['query']) ?? ''}`;
    default:
      return null;
  }
}

/** Terminal escape sequences (colours, cursor moves) that agents print. */
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;

/** `text` on one line, without escape sequences, cut to ACTIVITY_CHARS with an ellipsis. */
function bounded(text: string): string | null {
  const line = oneLine(text.replace(ANSI, ''));
  if (!line) return null;
  return line.length <= ACTIVITY_CHARS ? line : `${line.slice(0, ACTIVITY_CHARS - 1)}…`;
}

/**
 * The last activity an agent's output tail shows: for claude's stream-json the last assistant text or tool name
 * (with its command or file), for codex's JSON lines the last command or message, otherwise (command, scripted, or
 * lines that are not JSON) the last non-blank line.
 */
export function lastActivity(tail: string, agent: AgentKind): string | null {
  // A lone carriage return (a progress bar redrawing its line) ends a line as well.
  const lines = tail.split(/\r\n?|\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (!line) continue;
    const json = agent === 'claude' || agent === 'codex' ? parseJsonLine(line) : null;
    if (!json) {
      const plain = bounded(line);
      if (plain) return plain;
      continue;
    }
    const said = agent === 'claude' ? claudeActivity(json) : codexActivity(json);
    if (said !== null) return bounded(said);
  }
  return null;
}
