/**
 * An offline, scripted model server speaking enough of the Anthropic Messages
 * API for the real `claude -p` CLI to run a full agentic session against it.
 *
 * Facts it relies on (measured with Claude Code 2.1.332, see docs/claude-cli.md):
 * - the CLI calls `POST /v1/messages?beta=true` (streaming) and, unless
 *   CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, `HEAD /api/hello`; nothing else;
 * - the first user message holds git status / attribution reminders and then
 *   the prompt; the working directory is in a `role: "system"` message as
 *   `Primary working directory: /abs/path` (with --bare: `CWD: /abs/path` in
 *   the system prompt);
 * - Write/Edit need absolute paths, so scripted relative paths are resolved
 *   against that directory;
 * - `--permission-mode auto` asks for a server-side safety verdict
 *   (`safeguards` in the request, `safeguard_results` in message_delta) or, in
 *   some configurations, sends a classifier side query; both are answered.
 */
import http from 'node:http';
import { listenOnLoopback, readRequest } from './loopback.ts';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export type ScriptStep =
  | { readonly tool: 'Bash'; readonly input: { readonly command: string } }
  | { readonly tool: 'Write'; readonly input: { readonly file_path: string; readonly content: string } }
  | {
      readonly tool: 'Edit';
      readonly input: { readonly file_path: string; readonly old_string: string; readonly new_string: string };
    }
  | { readonly text: string }; // final answer; ends the session (stop_reason end_turn)

export interface ScriptedAgent {
  /**
   * Substring matched against the text of the FIRST user message of a request (e.g. "Issue #42"). First agent whose
   * match is found wins.
   */
  readonly match: string;
  readonly steps: readonly ScriptStep[];
  /** Answer this many requests for this agent with an HTTP error before behaving (status 500 or 529 overloaded). */
  readonly failFirst?: { readonly count: number; readonly status: 500 | 529 };
}

export interface ModelServer {
  /** `http://127.0.0.1:<port>`: give it to the CLI as ANTHROPIC_BASE_URL. */
  readonly url: string;
  /** Every HTTP request, in order: the agent it matched (null: side query, HEAD /api/hello, …) and when. */
  readonly requests: ReadonlyArray<{ readonly match: string | null; readonly at: number }>;
  setScenario(agents: readonly ScriptedAgent[]): void;
  close(): Promise<void>;
}

export interface ModelServerOptions {
  /**
   * How to answer `--permission-mode auto`'s safety check, in both forms the
   * CLI uses: the server-side one (the request carries `safeguards:
   * [{type: "dangerous_tool_use"}]`; the verdict per tool_use id goes in
   * `message_delta.delta.safeguard_results`) and the client-side side query (no
   * tools; its system prompt asks for `<block>yes|no</block>`).
   * 'allow' (default): not flagged / `<block>no</block>`; 'block': flagged /
   * a block verdict; 'ok': behave like a plain gateway (no safeguard_results,
   * side query answered "ok"), so auto mode denies Bash.
   */
  readonly autoModeClassifier?: Classifier;
  /** Called with every request (method, url, parsed body) — for debugging. */
  readonly onRequest?: (req: { method: string; url: string; body: unknown }) => void;
}

type Classifier = 'allow' | 'block' | 'ok';

type Block =
  { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

interface Reply {
  readonly content: Block[];
  readonly stopReason: 'end_turn' | 'tool_use';
}

interface MessagesBody {
  safeguards?: unknown;
  model?: unknown;
  stream?: unknown;
  tools?: unknown;
  system?: unknown;
  messages?: unknown;
}

/** "Primary working directory: /x" (default prompt), "CWD: /x" (--bare). */
const CWD_RE =
  /^[ \t-]*(?:Primary working directory|Current working directory|Working directory|CWD):[ \t]*(\/[^\n]*?)[ \t]*$/im;

/** All text of a message's content (string or blocks). */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b: unknown) =>
      b && typeof b === 'object' && (b as { type?: unknown }).type === 'text'
        ? String((b as { text?: unknown }).text ?? '')
        : '',
    )
    .join('\n');
}

function messagesOf(body: MessagesBody): Array<{ role: string; content: unknown }> {
  return Array.isArray(body.messages) ? (body.messages as Array<{ role: string; content: unknown }>) : [];
}

/** The working directory the CLI reports (system prompt or a system-role message). */
function workingDirectoryOf(body: MessagesBody): string | null {
  const texts: string[] = [];
  if (typeof body.system === 'string') texts.push(body.system);
  else texts.push(textOf(body.system));
  for (const m of messagesOf(body)) texts.push(textOf(m.content));
  for (const t of texts) {
    const found = CWD_RE.exec(t);
    if (found?.[1]) return found[1];
  }
  return null;
}

/** The auto-mode permission classifier: its system prompt asks for `<block>no</block>`. */
function isClassifierQuery(body: MessagesBody): boolean {
  const system = typeof body.system === 'string' ? body.system : textOf(body.system);
  return system.includes('<block>no</block>');
}

function toolId(): string {
  return `toolu_${randomBytes(12).toString('hex')}`;
}

function msgId(): string {
  return `msg_${randomBytes(12).toString('hex')}`;
}

/**
 * Fixed token counts per answer, so costs are predictable: with the CLI's
 * default model (claude-opus-5-5 in 2.1.332, $4/M input, $20/M output as the
 * CLI computes it) every answered request costs $0.005.
 */
export const USAGE_PER_REQUEST = { input_tokens: 1000, output_tokens: 50 } as const;

function usage(inputTokens: number, outputTokens: number) {
  return {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
  };
}

function replyForStep(step: ScriptStep | undefined, cwd: string | null): Reply {
  if (!step) return { content: [{ type: 'text', text: 'ok' }], stopReason: 'end_turn' };
  if ('text' in step) return { content: [{ type: 'text', text: step.text }], stopReason: 'end_turn' };
  const input: Record<string, unknown> = { ...step.input };
  if ((step.tool === 'Write' || step.tool === 'Edit') && typeof input.file_path === 'string') {
    const p = input.file_path;
    if (!path.isAbsolute(p) && cwd) input.file_path = path.resolve(cwd, p);
  }
  return { content: [{ type: 'tool_use', id: toolId(), name: step.tool, input }], stopReason: 'tool_use' };
}

function errorBody(status: number): string {
  const error =
    status === 529
      ? { type: 'overloaded_error', message: 'Overloaded' }
      : status === 429
        ? { type: 'rate_limit_error', message: 'Rate limited' }
        : { type: 'api_error', message: 'Internal server error' };
  return JSON.stringify({ type: 'error', error });
}

function writeSse(
  res: http.ServerResponse,
  model: string,
  reply: Reply,
  safeguards: boolean,
  classifier: Classifier,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'request-id': `req_${randomBytes(12).toString('hex')}`,
  });
  const ev = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  };
  ev('message_start', {
    message: {
      id: msgId(),
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: usage(USAGE_PER_REQUEST.input_tokens, 1),
    },
  });
  ev('ping', {});
  reply.content.forEach((block, index) => {
    if (block.type === 'text') {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      // A few deltas, as the real API streams text in pieces.
      const pieces = block.text.match(/[\s\S]{1,64}/g) ?? [''];
      for (const text of pieces) ev('content_block_delta', { index, delta: { type: 'text_delta', text } });
    } else {
      ev('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      const json = JSON.stringify(block.input);
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const partial_json of json.match(/[\s\S]{1,64}/g) ?? []) {
        ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
      }
    }
    ev('content_block_stop', { index });
  });
  const toolUses = reply.content.flatMap((b) => (b.type === 'tool_use' ? [b.id] : []));
  const verdict =
    classifier === 'block'
      ? { type: 'evaluated', outcome: 'flagged', explanation: 'the scripted model server flags every action' }
      : { type: 'evaluated', outcome: 'not_flagged' };
  const safeguard =
    safeguards && classifier !== 'ok' && toolUses.length > 0
      ? {
          safeguard_results: [
            {
              type: 'dangerous_tool_use',
              status: {
                type: 'available',
                tool_uses: Object.fromEntries(toolUses.map((id) => [id, verdict])),
              },
            },
          ],
        }
      : {};
  ev('message_delta', {
    delta: { stop_reason: reply.stopReason, stop_sequence: null, ...safeguard },
    usage: { output_tokens: USAGE_PER_REQUEST.output_tokens },
  });
  ev('message_stop', {});
  res.end();
}

function writeJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function startModelServer(
  agents: readonly ScriptedAgent[],
  options: ModelServerOptions = {},
): Promise<ModelServer> {
  let scenario: readonly ScriptedAgent[] = agents;
  const classifier = options.autoModeClassifier ?? 'allow';
  /** Requests answered with an error so far, per agent (by identity). */
  let failures = new Map<ScriptedAgent, number>();
  const requests: Array<{ match: string | null; at: number }> = [];

  function answerMessages(body: MessagesBody, res: http.ServerResponse): void {
    const messages = messagesOf(body);
    const model = typeof body.model === 'string' ? body.model : 'claude-scripted';
    const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
    const firstUser = messages.find((m) => m.role === 'user');
    const firstText = firstUser ? textOf(firstUser.content) : '';
    const agent = hasTools ? scenario.find((a) => firstText.includes(a.match)) : undefined;
    requests.push({ match: agent ? agent.match : null, at: Date.now() });

    if (agent?.failFirst) {
      const failed = failures.get(agent) ?? 0;
      if (failed < agent.failFirst.count) {
        failures.set(agent, failed + 1);
        writeJson(res, agent.failFirst.status, errorBody(agent.failFirst.status));
        return;
      }
    }

    let reply: Reply;
    if (!agent && !hasTools && isClassifierQuery(body) && classifier !== 'ok') {
      const text =
        classifier === 'block'
          ? '<block>yes</block><category>Scripted Block</category><reason>[Scripted Block] the scripted model server blocks every action</reason>'
          : '<block>no</block>';
      reply = { content: [{ type: 'text', text }], stopReason: 'end_turn' };
    } else if (!agent) {
      reply = { content: [{ type: 'text', text: 'ok' }], stopReason: 'end_turn' };
    } else {
      const turn = messages.filter((m) => m.role === 'assistant').length;
      const step = agent.steps[turn] ?? agent.steps.find((s): s is { readonly text: string } => 'text' in s);
      reply = replyForStep(step, workingDirectoryOf(body));
    }

    if (body.stream === true) {
      writeSse(res, model, reply, Array.isArray(body.safeguards), classifier);
    } else {
      writeJson(res, 200, {
        id: msgId(),
        type: 'message',
        role: 'assistant',
        model,
        content: reply.content,
        stop_reason: reply.stopReason,
        stop_sequence: null,
        usage: usage(USAGE_PER_REQUEST.input_tokens, USAGE_PER_REQUEST.output_tokens),
      });
    }
  }

  const server = http.createServer((req, res) => {
    void readRequest(req).then(({ pathname, raw, body }) => {
      options.onRequest?.({ method: req.method ?? '', url: req.url ?? '', body });
      try {
        if (req.method === 'POST' && pathname === '/v1/messages') {
          if (!body || typeof body !== 'object') {
            requests.push({ match: null, at: Date.now() });
            writeJson(res, 400, {
              type: 'error',
              error: { type: 'invalid_request_error', message: 'body must be JSON' },
            });
            return;
          }
          answerMessages(body as MessagesBody, res);
        } else if (pathname === '/v1/messages/count_tokens') {
          requests.push({ match: null, at: Date.now() });
          writeJson(res, 200, { input_tokens: Math.max(1, Math.ceil(raw.length / 4)) });
        } else if (req.method === 'HEAD') {
          requests.push({ match: null, at: Date.now() });
          res.writeHead(200);
          res.end();
        } else {
          requests.push({ match: null, at: Date.now() });
          writeJson(res, 200, {});
        }
      } catch {
        if (!res.headersSent) writeJson(res, 500, errorBody(500));
        else res.end();
      }
    });
  });
  return listenOnLoopback(server, 'model server').then(({ port, close }) => ({
    url: `http://127.0.0.1:${port}`,
    requests,
    setScenario(next) {
      scenario = next;
      failures = new Map();
    },
    close,
  }));
}
