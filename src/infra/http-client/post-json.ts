import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { AddressGuard } from './address-guard.ts';

export interface PostResult {
  /** null when no HTTP response arrived (refused target, connection error, timeout). */
  status: number | null;
  headers: Record<string, string | string[] | undefined>;
  /** The first `maxBodyBytes` of the response body. */
  body: string;
  error: string | null;
  /** When the attempt began (epoch ms): what the delivery log shows as its time. */
  startedAt: number;
  durationMs: number;
}

export interface PostOptions {
  /** Keep-alive agents (see `keepAliveAgents`); without them each POST opens its own connection. */
  agents?: { http: HttpAgent; https: HttpsAgent };
  url: string;
  headers: Record<string, string>;
  body: string;
  guard: AddressGuard;
  timeoutMs: number;
  maxBodyBytes: number;
}

const CUT_SHORT = 'the connection closed before the answer ended';

/**
 * POSTs JSON to a webhook target: SSRF-guarded, no redirects followed (a 3xx is just a status),
 * one deadline for connect + response, and the response body read up to a cap, then dropped.
 */
export function postJson(options: PostOptions): Promise<PostResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<PostResult, 'startedAt' | 'durationMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...result, startedAt: started, durationMs: Date.now() - started });
    };
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      return finish({ status: null, headers: {}, body: '', error: 'invalid URL' });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const reason = options.guard.refusal(host);
      if (reason) return finish({ status: null, headers: {}, body: '', error: `refused target: ${reason}` });
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let req: ReturnType<typeof send>;
    let answered = false;
    try {
      req = send(
        url,
        {
          method: 'POST',
          headers: {
            ...options.headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(options.body),
          },
          lookup: options.guard.lookup as never,
          timeout: options.timeoutMs,
          agent: options.agents
            ? url.protocol === 'https:'
              ? options.agents.https
              : options.agents.http
            : false,
        },
        (res) => {
          answered = true;
          // A 1xx as the final answer (a 101 without Upgrade): no answer to a webhook, and the
          // connection is in an unknown state, so it is not reused.
          if ((res.statusCode ?? 0) < 200) {
            finish({
              status: res.statusCode ?? null,
              headers: res.headers,
              body: '',
              error: `the receiver answered ${res.statusCode} instead of a final answer`,
            });
            res.destroy();
            req.destroy();
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          const answer = (error: string | null) =>
            finish({
              status: res.statusCode ?? null,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
              error,
            });
          res.on('data', (chunk: Buffer) => {
            if (size < options.maxBodyBytes) chunks.push(chunk.subarray(0, options.maxBodyBytes - size));
            size += chunk.length;
            // Past the cap, stop reading: the status is all that decides the outcome.
            if (size >= options.maxBodyBytes) {
              answer(null);
              res.destroy();
            }
          });
          res.on('end', () => answer(null));
          // Node reports a connection closed mid-answer as a bare "aborted": say what happened.
          res.on('error', (error) => answer(error.message === 'aborted' ? CUT_SHORT : error.message));
          // Closed before its end, without an error: an answer cut short is no answer.
          res.on('close', () => answer(res.complete ? null : CUT_SHORT));
        },
      );
    } catch (error) {
      // A header Node will not send (it checks before connecting): this attempt fails, nothing hangs.
      return finish({ status: null, headers: {}, body: '', error: (error as Error).message });
    }
    // 101 Switching Protocols (or a CONNECT-style answer): not an answer to a webhook.
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      finish({
        status: res.statusCode ?? null,
        headers: res.headers,
        body: '',
        error: `the receiver switched protocols (${res.statusCode}) instead of answering`,
      });
    });
    const deadline = setTimeout(() => {
      req.destroy(new Error(`timed out after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('close', () => {
      clearTimeout(deadline);
      // Every way a request ends settles the attempt: a connection gone without an answer too.
      if (!answered)
        finish({ status: null, headers: {}, body: '', error: 'the connection closed without an answer' });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${options.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({
        status: null,
        headers: {},
        body: '',
        // llhttp's codes (HPE_…): the receiver's bytes are no HTTP answer, e.g. "Parse Error: Invalid status code".
        error: error.code?.startsWith('HPE_')
          ? `the answer is not valid HTTP (${error.message})`
          : error.message,
      }),
    );
    req.end(options.body);
  });
}

/**
 * Connections to receivers are reused. Safe against SSRF: a socket is only ever opened through
 * the guard's lookup, so a reused connection goes to an address that was checked when it opened.
 */
export function keepAliveAgents(
  guard: AddressGuard,
  perOrigin: number,
): { http: HttpAgent; https: HttpsAgent } {
  const options = {
    keepAlive: true,
    maxSockets: perOrigin,
    maxFreeSockets: perOrigin,
    timeout: 30_000,
    lookup: guard.lookup as never,
  };
  return { http: new HttpAgent(options), https: new HttpsAgent(options) };
}
