/** Listen on 127.0.0.1 (random port) for the scripted model servers (the demo's, and the tests' in test/support/). */
import type http from 'node:http';

/** A listening server: its port, and a close that does not wait for idle keep-alive sockets. */
export interface Listening {
  readonly port: number;
  close(): Promise<void>;
}

/** Start `server` on 127.0.0.1 at a free port. */
export function listenOnLoopback(server: http.Server, what: string): Promise<Listening> {
  // Keep-alive sockets of a finished CLI must not hold close() up.
  server.keepAliveTimeout = 1000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (!addr || typeof addr === 'string') {
        reject(new Error(`${what}: no address`));
        return;
      }
      resolve({
        port: addr.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** A request's path (without query) and its body, parsed as JSON when it is JSON. */
export function readRequest(req: http.IncomingMessage): Promise<{ pathname: string; raw: string; body: unknown }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      if (raw) {
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
      }
      resolve({ pathname: (req.url ?? '/').split('?')[0] ?? '/', raw, body });
    });
  });
}
