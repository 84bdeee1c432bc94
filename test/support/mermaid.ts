/**
 * mermaid's own parser in Node (what GitHub renders `report.md`'s pictures with): mermaid needs a DOM, which jsdom
 * gives it: `window` and `document` are set on the global object before mermaid is loaded, so the DOMPurify mermaid
 * loads binds to that window (without it: "DOMPurify.addHook is not a function"). Loaded once, on first use.
 */
let loaded: Promise<(text: string) => Promise<string>> | null = null;

async function load(): Promise<(text: string) => Promise<string>> {
  // jsdom ships no types (and @types/jsdom is not worth a dependency for two lines).
  const jsdom = 'jsdom';
  const { JSDOM } = (await import(jsdom)) as {
    JSDOM: new (html: string) => { window: { document: unknown } };
  };
  const { window } = new JSDOM('<!doctype html><html><body></body></html>');
  const g = globalThis as Record<string, unknown>;
  g.window = window;
  g.document = window.document;
  const { default: mermaid } = await import('mermaid');
  mermaid.initialize({ startOnLoad: false });
  return async (text) => {
    const parsed = await mermaid.parse(text);
    return parsed ? parsed.diagramType : 'none';
  };
}

/** Parse `text` with mermaid: its diagram type, or mermaid's parse error thrown. */
export async function parseMermaid(text: string): Promise<string> {
  loaded ??= load();
  return (await loaded)(text);
}

/** The ```mermaid blocks of a markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```$/gm)].map((m) => m[1] as string);
}
