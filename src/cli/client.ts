import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { failureDetail } from '../../packages/client/src/fetch-failure.ts';
import type { Config } from '../config.ts';
import { CliFailure, type ErrorEnvelope } from './output.ts';
import { runningServer } from './running-server.ts';

export interface ClientOptions {
  url?: string;
  token?: string;
  /**
   * Instead of a management token: a dashboard session (`gatehouse login`), or none at all for
   * the calls that take no credentials (signing in).
   */
  session?: { cookie: string; csrf: string } | 'none';
}

export interface StoredCredentials {
  url: string;
  token: string;
}

export function readCredentials(path: string): StoredCredentials | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StoredCredentials;
  } catch {
    return undefined;
  }
}

/** A request body that is JSON text already (sent as it is, so its numbers keep every digit). */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A thin client for the management API, as the CLI uses it. */
export function managementClient(config: Config, options: ClientOptions) {
  const stored = readCredentials(config.cliCredentialsPath);
  const running = runningServer(config);
  const [chosen, from] = options.url
    ? [options.url, '--url']
    : config.apiUrl
      ? [config.apiUrl, 'GATEHOUSE_URL']
      : running
        ? [running.url, `the server started from this directory (pid ${running.pid})`]
        : stored?.url
          ? [stored.url, `saved by init in ${resolve(config.cliCredentialsPath)}`]
          : [config.localUrl, 'HOST and PORT'];
  // Spaces around an address pasted into GATEHOUSE_URL or --url are no part of it.
  const base = chosen.trim().replace(/\/$/, '');
  const token = options.token ?? config.token ?? stored?.token;

  /** `raw`: hand back the streaming Response itself (exports) instead of the parsed `data`. */
  return Object.assign(call, { base });
  async function call<T>(method: string, path: string, body?: unknown, raw = false): Promise<T> {
    const session = options.session;
    if (!token && !session) {
      throw new CliFailure({
        success: false,
        error:
          `No management token: none saved at ${resolve(config.cliCredentialsPath)} (run the CLI in the ` +
          'directory you ran "gatehouse init" in, or set GATEHOUSE_CLI_CREDENTIALS), and no --token or GATEHOUSE_TOKEN',
        code: 'cli_no_token',
      });
    }
    const malformed = !/^https?:\/\/[^/]/i.test(base)
      ? 'is not an http:// or https:// URL'
      : !URL.canParse(`${base}/`)
        ? 'is not a valid URL'
        : undefined;
    if (malformed) {
      // Not "cannot reach … is it running?": the address itself is wrong (a scheme left out).
      throw new CliFailure({
        success: false,
        error: `${from} "${chosen}" ${malformed} (e.g. http://127.0.0.1:4000)`,
        code: from === '--url' ? 'cli_usage' : 'config_error',
      });
    }
    // Something that takes the connection and never answers must not hang the CLI. An export's
    // stream is not bound (it may rightly take long): only until its answer begins.
    const timeoutMs = config.cliTimeoutMs;
    const timer = new AbortController();
    const timeout = setTimeout(() => timer.abort(), timeoutMs);
    try {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(session === 'none'
            ? {}
            : session
              ? { cookie: session.cookie, 'x-csrf-token': session.csrf }
              : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body),
        signal: timer.signal,
      });
      if (!raw || !response.ok) return await answerOf<T>(response, `${base} (${from})`);
      return response as T;
    } catch (error) {
      if (error instanceof CliFailure) throw error;
      if (timer.signal.aborted)
        throw new CliFailure({
          success: false,
          error: `No answer from Gatehouse at ${base} (${from}) within ${timeoutMs / 1000} s; is it overloaded or stuck? (GATEHOUSE_CLI_TIMEOUT_MS sets the wait)`,
          code: 'cli_unreachable',
        });
      const detail = failureDetail(error);
      throw new CliFailure({
        success: false,
        error:
          detail === 'bad port'
            ? // fetch never connects there (nor do browsers): "is it running?" would send the user
              // looking at a server that runs.
              `Cannot reach Gatehouse at ${base} (${from}): fetch refuses to connect to port ${portOf(base)}, ` +
              `as browsers do (one of the Fetch standard's "bad ports", such as 6000 or 6665-6669), so the CLI ` +
              'and the dashboard cannot use it: run Gatehouse on another PORT'
            : `Cannot reach Gatehouse at ${base} (${from}: ${detail}); is "gatehouse start" running? Give its address with --url or GATEHOUSE_URL`,
        code: 'cli_unreachable',
      });
    } finally {
      clearTimeout(timeout);
    }
  }
}

/** The port a URL names, or its scheme's (80, 443). */
function portOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  } catch {
    return '?';
  }
}

/**
 * The `data` of a Gatehouse answer, or its error envelope thrown. Anything else (a page, another
 * service's JSON, an empty body) is another program at that address, and is said to be one.
 */
async function answerOf<T>(response: Response, where: string): Promise<T> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const envelope = parsed as { success?: unknown; code?: unknown; error?: unknown } | null | undefined;
  const isGatehouse =
    typeof envelope === 'object' &&
    envelope !== null &&
    (response.ok
      ? envelope.success === true
      : envelope.success === false &&
        typeof envelope.code === 'string' &&
        typeof envelope.error === 'string');
  if (!isGatehouse) {
    const type = response.headers.get('content-type')?.split(';')[0];
    throw new CliFailure({
      success: false,
      error:
        `${where} answered ${response.status}${type ? ` (${type})` : ''}, but not as Gatehouse answers: ` +
        "is another service on that port? Give Gatehouse's address with --url or GATEHOUSE_URL",
      code: 'cli_bad_response',
    });
  }
  if (!response.ok) throw new CliFailure(parsed as ErrorEnvelope);
  return (parsed as { data: T }).data;
}
