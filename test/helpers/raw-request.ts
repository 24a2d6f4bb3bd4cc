import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
  text: string;
}

/**
 * One request over node:http, its framing as given: `body` sent with a Content-Length (Node's
 * default), `chunks` sent chunked, each once the previous one is written. With `holdOpen`, the
 * last chunk is not followed by the end of the body: an answer can only come from what was read.
 */
export function send(
  url: string,
  method: string,
  path: string,
  options: {
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunks?: Array<string | Buffer>;
    holdOpen?: boolean;
  } = {},
): Promise<Answer> {
  // Node's client frames a DELETE's body only when told how (it would send the bytes unframed).
  const headers = { ...options.headers };
  if (options.chunks) headers['transfer-encoding'] = 'chunked';
  else if (options.body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        // A request held open has done its part once answered.
        req.destroy();
      });
    });
    req.on('error', reject);
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      if (!options.holdOpen) req.end();
    } else if (options.holdOpen) {
      req.flushHeaders();
      if (options.body !== undefined) req.write(options.body);
    } else req.end(options.body);
  });
}

export function assertEnvelope(res: Answer, status: number, code: string, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.text}`);
  assert.equal(res.body?.success, false, `${what}: the error envelope (${res.text})`);
  assert.equal(res.body?.code, code, `${what}: ${res.text}`);
  assert.match(String(res.body?.request_id), /^req_/, `${what}: a request id`);
}

/** Raw socket exchange: what the server answers (or whether it hangs up) for a hostile client. */
export function exchange(
  url: string,
  chunks: Array<{ data: string; delayMs?: number }>,
  waitMs = 5_000,
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${received}[still open]`);
    }, waitMs);
    socket.on('data', (d) => {
      received += d.toString();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', () => {});
    (async () => {
      for (const chunk of chunks) {
        if (chunk.delayMs) await new Promise((r) => setTimeout(r, chunk.delayMs));
        if (socket.destroyed) return;
        socket.write(chunk.data);
      }
    })();
  });
}
