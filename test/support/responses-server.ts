/**
 * An offline, scripted model server speaking enough of the OpenAI Responses API
 * for the real `codex exec` CLI to run a full agentic session against it.
 *
 * Facts it relies on (measured with @openai/codex 0.169.0, see docs/codex-cli.md):
 * - codex calls `POST /v1/responses` (base_url of its model provider + `/responses`),
 *   `stream: true`, `store: false`, and sends the WHOLE conversation as `input`
 *   every time (no `previous_response_id`); nothing else is requested;
 * - `input` holds developer messages (instructions, permissions), a user message
 *   `<environment_context>…<cwd>/abs/worktree</cwd>…`, then the prompt as a user
 *   message, then per earlier step a `function_call` item and its
 *   `function_call_output`; so the number of `function_call` items is the step;
 * - the shell tool is the function `exec_command` with arguments `{"cmd": "…"}`
 *   (run with `bash -lc` in the cwd); the answer is read from
 *   `response.output_item.done` items and `response.completed` (whose `usage`
 *   becomes the `turn.completed.usage` of `codex exec --json`);
 * - HTTP 429 is not retried (the turn fails at once); HTTP 500 is retried with
 *   backoff for ~25 s before the turn fails.
 */
import http from 'node:http';
import { listenOnLoopback, readRequest } from '../../tasks/demo/loopback.ts';
import { randomBytes } from 'node:crypto';

/** One answer of the scripted model: a shell command (an `exec_command` call) or the final text. */
export type ResponsesStep = { readonly cmd: string } | { readonly text: string };

export interface ResponsesAgent {
  /**
   * Substring of the prompt (the first user message after codex's `<environment_context>`); first agent whose match is
   * found wins.
   */
  readonly match: string;
  readonly steps: readonly ResponsesStep[];
  /**
   * Answer this many requests for this agent with an HTTP error before behaving (429: codex gives up at once; 500:
   * retried).
   */
  readonly failFirst?: { readonly count: number; readonly status: 429 | 500 };
}

/** One request the server answered. */
export interface ResponsesRequest {
  /** The agent it matched (null: nothing matched, or not a `POST /v1/responses`). */
  readonly match: string | null;
  readonly at: number;
  /** 0-based step answered (function calls already in the conversation); null when not an agent request. */
  readonly step: number | null;
  /** The output of the previous step's command as codex reported it (`function_call_output`), or null. */
  readonly toolOutput: string | null;
  /** HTTP status answered. */
  readonly status: number;
}

export interface ResponsesServer {
  /** `http://127.0.0.1:<port>/v1`: the model provider's `base_url`. */
  readonly url: string;
  readonly requests: readonly ResponsesRequest[];
  setScenario(agents: readonly ResponsesAgent[]): void;
  close(): Promise<void>;
}

export interface ResponsesServerOptions {
  /** Called with every request (method, url, parsed body): for debugging. */
  readonly onRequest?: (req: { method: string; url: string; body: unknown }) => void;
}

/**
 * Fixed token counts per answer, so usage is predictable: every answered
 * request reports 1000 input (200 of them cached) and 50 output tokens.
 */
export const RESPONSES_USAGE_PER_REQUEST = { input_tokens: 1000, cached_tokens: 200, output_tokens: 50 } as const;

interface InputItem {
  readonly type?: unknown;
  readonly role?: unknown;
  readonly content?: unknown;
  readonly output?: unknown;
}

interface ResponsesBody {
  readonly model?: unknown;
  readonly input?: unknown;
  readonly tools?: unknown;
}

/** All `input_text` / `output_text` of a message item's content. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((c: unknown) =>
      c && typeof c === 'object' && typeof (c as { text?: unknown }).text === 'string'
        ? (c as { text: string }).text
        : '',
    )
    .join('\n');
}

function inputOf(body: ResponsesBody): InputItem[] {
  return Array.isArray(body.input) ? (body.input as InputItem[]) : [];
}

/** Context codex adds as user messages before the prompt. */
const CONTEXT_RE = /^\s*(<environment_context>|<user_instructions>|# AGENTS\.md instructions)/;

/** The prompt: the first user message that is not codex's own context. */
export function promptOf(body: ResponsesBody): string {
  for (const item of inputOf(body)) {
    if (item.type !== 'message' || item.role !== 'user') continue;
    const text = textOf(item.content);
    if (!CONTEXT_RE.test(text)) return text;
  }
  return '';
}

/** The text of a `function_call_output` (a string, or content items). */
function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (output && typeof output === 'object' && 'content' in output)
    return textOf((output as { content: unknown }).content);
  return textOf(output);
}

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;

function usage() {
  const u = RESPONSES_USAGE_PER_REQUEST;
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

/** The output item of a step, in its `added` (in progress) and `done` forms. */
function itemsFor(step: ResponsesStep): {
  added: Record<string, unknown>;
  done: Record<string, unknown>;
  text: string | null;
} {
  if ('cmd' in step) {
    const base = { type: 'function_call', id: id('fc'), call_id: id('call'), name: 'exec_command' };
    return {
      added: { ...base, arguments: '', status: 'in_progress' },
      done: { ...base, arguments: JSON.stringify({ cmd: step.cmd }), status: 'completed' },
      text: null,
    };
  }
  const base = { type: 'message', id: id('msg'), role: 'assistant' };
  return {
    added: { ...base, status: 'in_progress', content: [] },
    done: { ...base, status: 'completed', content: [{ type: 'output_text', text: step.text, annotations: [] }] },
    text: step.text,
  };
}

function writeSse(res: http.ServerResponse, model: string, step: ResponsesStep): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': id('req'),
  });
  let sequence = 0;
  const ev = (type: string, data: Record<string, unknown>): void => {
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
  };
  const responseId = id('resp');
  const response = (status: string, output: unknown[]) => ({
    id: responseId,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status,
    model,
    output,
    ...(status === 'completed' ? { usage: usage() } : {}),
  });
  ev('response.created', { response: response('in_progress', []) });
  ev('response.in_progress', { response: response('in_progress', []) });
  const { added, done, text } = itemsFor(step);
  ev('response.output_item.added', { output_index: 0, item: added });
  if (text !== null) {
    const itemId = done.id;
    ev('response.content_part.added', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    });
    for (const delta of text.match(/[\s\S]{1,64}/g) ?? ['']) {
      ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta });
    }
    ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text });
    ev('response.content_part.done', {
      item_id: itemId,
      output_index: 0,
      content_index: 0,
      part: { type: 'output_text', text, annotations: [] },
    });
  } else {
    ev('response.function_call_arguments.delta', { item_id: done.id, output_index: 0, delta: done.arguments });
    ev('response.function_call_arguments.done', { item_id: done.id, output_index: 0, arguments: done.arguments });
  }
  ev('response.output_item.done', { output_index: 0, item: done });
  ev('response.completed', { response: response('completed', [done]) });
  res.end();
}

function errorBody(status: number): string {
  const error =
    status === 429
      ? { message: 'Rate limit reached (scripted)', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' }
      : {
          message: 'The server had an error while processing your request (scripted)',
          type: 'server_error',
          param: null,
          code: null,
        };
  return JSON.stringify({ error });
}

function writeJson(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function startResponsesServer(
  agents: readonly ResponsesAgent[],
  options: ResponsesServerOptions = {},
): Promise<ResponsesServer> {
  let scenario: readonly ResponsesAgent[] = agents;
  let failures = new Map<ResponsesAgent, number>();
  const requests: ResponsesRequest[] = [];

  function answer(body: ResponsesBody, res: http.ServerResponse): void {
    const input = inputOf(body);
    const model = typeof body.model === 'string' ? body.model : 'scripted';
    const prompt = promptOf(body);
    const agent = scenario.find((a) => prompt.includes(a.match));
    const step = input.filter((i) => i.type === 'function_call').length;
    const outputs = input.filter((i) => i.type === 'function_call_output');
    const last = outputs[outputs.length - 1];
    const toolOutput = last ? outputText(last.output) : null;
    const record = (status: number) =>
      requests.push({ match: agent?.match ?? null, at: Date.now(), step: agent ? step : null, toolOutput, status });

    if (agent?.failFirst) {
      const failed = failures.get(agent) ?? 0;
      if (failed < agent.failFirst.count) {
        failures.set(agent, failed + 1);
        record(agent.failFirst.status);
        writeJson(res, agent.failFirst.status, errorBody(agent.failFirst.status));
        return;
      }
    }
    record(200);
    const chosen: ResponsesStep = agent
      ? (agent.steps[step] ?? agent.steps.find((s): s is { readonly text: string } => 'text' in s) ?? { text: 'ok' })
      : { text: 'ok' };
    writeSse(res, model, chosen);
  }

  const server = http.createServer((req, res) => {
    void readRequest(req).then(({ pathname, body }) => {
      options.onRequest?.({ method: req.method ?? '', url: req.url ?? '', body });
      try {
        if (req.method === 'POST' && pathname === '/v1/responses' && body && typeof body === 'object') {
          answer(body as ResponsesBody, res);
        } else {
          requests.push({ match: null, at: Date.now(), step: null, toolOutput: null, status: 404 });
          writeJson(
            res,
            404,
            JSON.stringify({
              error: { message: `not scripted: ${req.method} ${pathname}`, type: 'invalid_request_error' },
            }),
          );
        }
      } catch {
        if (!res.headersSent) writeJson(res, 500, errorBody(500));
        else res.end();
      }
    });
  });
  return listenOnLoopback(server, 'responses server').then(({ port, close }) => ({
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    setScenario(next) {
      scenario = next;
      failures = new Map();
    },
    close,
  }));
}
