import { randomUUID } from 'node:crypto';
import { ConnectionError, errorFromResponse, GatehouseError, NotFoundError } from './errors.js';
import { failureDetail } from './fetch-failure.js';
import { parseJson, stringifyJson } from './json.js';

export interface GatehouseOptions {
  apiKey: string;
  /** Default http://localhost:4000 */
  baseUrl?: string | undefined;
  /** Per attempt; default 30 s. */
  timeoutMs?: number | undefined;
  /** Retries for 429, 5xx (not 507) and network errors; default 2. */
  maxRetries?: number | undefined;
  /**
   * The longest `Retry-After` a retry waits for; default 60 s. A longer one (a daily limit or
   * monthly quota) is not waited out: the error (a `RateLimitError` with `retryAfter`) is thrown.
   */
  maxRetryWaitMs?: number | undefined;
  fetch?: typeof globalThis.fetch | undefined;
}

export interface GatehouseRecord<T> {
  id: string;
  object: 'record';
  endpoint: string;
  environment: 'test' | 'live';
  data: T;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface Queued {
  success: true;
  id: string;
  message: 'Request queued';
}

/** `GET /api/v1/account`: the calling key. */
export interface Account {
  id: string;
  object: 'api_key';
  name: string;
  environment: 'test' | 'live';
  scopes: string[];
  /** The key's own limits; a window it sets none for is absent. */
  limits: { per_minute?: number; per_day?: number; per_month?: number };
  expires_at: string | null;
  created_at: string;
  /**
   * The `whsec_…` secret that signs this key's callbacks (`WriteOptions.callback`): pass it to
   * `verifyWebhook`. Each key has its own; it changes only when the owner rotates it (the one
   * before keeps signing alongside for the overlap the owner chose, so read it again then). Null
   * when `apiKey` is a token minted from the key rather than the key itself.
   */
  callback_signing_secret: string | null;
  /**
   * Requests counted in each window so far, this call included (as the limit headers count them);
   * null when the server could not reach its counters.
   */
  usage: { minute: UsageWindow; day: UsageWindow; month: UsageWindow } | null;
}

/** One window of `Account.usage`. */
export interface UsageWindow {
  used: number;
  /** The effective limit: the key's own, else the installation's default; null when unlimited. */
  limit: number | null;
  /** Null when unlimited. */
  remaining: number | null;
  /** When the window ends (ISO 8601, UTC). */
  resets_at: string;
}

/** What every call takes. */
export interface CallOptions {
  /**
   * Cancels the call, its retries and any wait between them: it rejects with the signal's
   * `reason` (an `AbortError` unless given another), as fetch does. A write cancelled after it
   * was sent may still have been queued: send it again with the same `idempotencyKey` to be sure.
   */
  signal?: AbortSignal | undefined;
}

export interface WriteOptions extends CallOptions {
  /** Defaults to a random key, so a retried write is never applied twice. */
  idempotencyKey?: string | undefined;
  /**
   * POST the processing result here, signed with the calling key's callback signing secret
   * (`account().callback_signing_secret`).
   */
  callback?: { url: string; auth?: string | undefined; authHeader?: string | undefined } | undefined;
}

/** A filter's value is compared with a scalar: fields that can hold none (arrays, objects) take no filter. */
type FilterableKey<T, K extends keyof T> = unknown extends T[K]
  ? K
  : [Extract<T[K], string | number | bigint | boolean | null>] extends [never]
    ? never
    : K;

export interface ListParams<T> extends CallOptions {
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
  after?: string | undefined;
  /**
   * Equality filters on top-level fields (`null` finds JSON null). A field named like a member
   * every object has (`constructor`, `toString`…) also takes that member's type, as `gatehouse
   * types` writes it: every object literal inherits it, and only own fields are sent. A field
   * that is only an array or object takes none (the server answers 400 invalid_request).
   */
  filter?:
    | {
        [K in keyof T & string as FilterableKey<T, K>]?:
          | string
          | number
          | bigint
          | boolean
          | null
          | undefined
          // biome-ignore lint/complexity/noBannedTypes: Object's members are what every object inherits
          | (K extends keyof Object ? Object[K] : never);
      }
    | undefined;
}

export interface Page<T> {
  data: GatehouseRecord<T>[];
  nextCursor: string | null;
}

interface RequestOptions {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
/**
 * A signal that aborts when either does, with their reason. AbortSignal.any does it from Node 20.3
 * (and recent browsers); the package says Node 20, so before that it is done by hand. `release`
 * drops the listeners then left on `cancel`, which a caller may keep for many requests.
 */
function eitherSignal(timeout: AbortSignal, cancel: AbortSignal): { signal: AbortSignal; release(): void } {
  if (typeof AbortSignal.any === 'function')
    return { signal: AbortSignal.any([timeout, cancel]), release: () => undefined };
  const linked = new AbortController();
  const release = () => {
    timeout.removeEventListener('abort', onTimeout);
    cancel.removeEventListener('abort', onCancel);
  };
  const onTimeout = () => {
    release();
    linked.abort(timeout.reason);
  };
  const onCancel = () => {
    release();
    linked.abort(cancel.reason);
  };
  if (cancel.aborted) linked.abort(cancel.reason);
  else if (timeout.aborted) linked.abort(timeout.reason);
  else {
    timeout.addEventListener('abort', onTimeout, { once: true });
    cancel.addEventListener('abort', onCancel, { once: true });
  }
  return { signal: linked.signal, release };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * The Gatehouse data API. Give it a map of endpoint types (e.g. from `gatehouse types`) to make
 * `records('orders').create(…)` type-checked: `new Gatehouse<Endpoints>({ apiKey })`.
 */
export class Gatehouse<E extends object = Record<string, Record<string, unknown>>> {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly maxRetryWaitMs: number;
  private readonly fetch: typeof globalThis.fetch;

  /** An ES private field: the key is not printed with the client (console.log, util.inspect) nor serialised. */
  readonly #apiKey: string;

  constructor(options: GatehouseOptions) {
    if (!options.apiKey) throw new Error('Gatehouse: apiKey is required');
    this.#apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? 'http://localhost:4000').replace(/\/$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? 60_000;
    const fetch = options.fetch ?? globalThis.fetch;
    // Called as a plain function: a browser's or a worker's fetch refuses any `this` but the
    // global ("Illegal invocation"), and `this.fetch(…)` would hand it the client.
    this.fetch = (input, init) => fetch(input, init);
    // A value read from an unset variable (`Number(undefined)` is NaN) would otherwise retry a
    // 5xx forever, or make every call a ConnectionError ("unreachable") for a bad timeout.
    const whole = (name: string, value: number, low: number, high: number) => {
      if (!Number.isInteger(value) || value < low || value > high)
        throw new RangeError(
          `Gatehouse: ${name} must be a whole number from ${low} to ${high}, not ${value}`,
        );
    };
    // A timer holds at most 2^31 − 1 ms (~24.8 days): AbortSignal.timeout(2^31) fires at once.
    whole('timeoutMs', this.timeoutMs, 1, 2 ** 31 - 1);
    whole('maxRetries', this.maxRetries, 0, Number.MAX_SAFE_INTEGER);
    if (Number.isNaN(this.maxRetryWaitMs) || this.maxRetryWaitMs < 0)
      throw new RangeError(`Gatehouse: maxRetryWaitMs must be 0 or more, not ${this.maxRetryWaitMs}`);
    // A base URL fetch cannot use ('' from an unset variable, 'api.example.com' without its
    // scheme) is the caller's to fix: not "unreachable" after every retry.
    // In a browser a path on the page's own origin (`/gatehouse`, behind its proxy) is one.
    const page = (globalThis as { location?: { href?: string } }).location?.href;
    let base: URL | undefined;
    try {
      base = new URL(this.baseUrl, page);
    } catch {}
    if (base?.protocol !== 'http:' && base?.protocol !== 'https:')
      throw new TypeError(
        `Gatehouse: baseUrl must be an absolute http:// or https:// URL, not ${JSON.stringify(options.baseUrl)}`,
      );
  }

  records<K extends keyof E & string>(slug: K): Records<E[K]> {
    return new Records<E[K]>(this, slug);
  }

  /** The calling key: name, environment, scopes, limits, callback signing secret and usage. */
  account(options: CallOptions = {}): Promise<Account> {
    return this.request<{ data: Account }>({
      method: 'GET',
      path: '/api/v1/account',
      signal: options.signal,
    }).then((r) => r.data);
  }

  /** @internal One call with retries (exponential backoff, full jitter, Retry-After honoured). */
  async request<R>(req: RequestOptions): Promise<R> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      ...req.headers,
    };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    // Writes carry an Idempotency-Key, so retrying one can never apply it twice.
    if (req.method !== 'GET' && !Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')) {
      headers['idempotency-key'] = randomUUID();
    }
    // A value fetch cannot send is the caller's to fix: not "unreachable", and not retried.
    for (const [name, value] of Object.entries(headers)) {
      try {
        new Headers([[name, value]]);
      } catch {
        // The value is not repeated: it may be the API key.
        throw new TypeError(
          `Gatehouse: the ${name} header cannot be sent: its value must be Latin-1 text without line breaks or NUL`,
        );
      }
    }
    const body = req.body === undefined ? null : stringifyJson(req.body);
    const cancel = req.signal;
    for (let attempt = 0; ; attempt++) {
      cancel?.throwIfAborted();
      let response: Response;
      let text: string;
      // One timeout for the whole attempt: the answer's body is read under it too.
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const linked = cancel ? eitherSignal(timeout, cancel) : undefined;
      try {
        response = await this.fetch(`${this.baseUrl}${req.path}`, {
          method: req.method,
          headers,
          body,
          signal: linked?.signal ?? timeout,
          // Not followed (see below): a POST answered 301, 302 or 303 would be sent again as a GET.
          redirect: 'manual',
        });
        text = await response.text();
      } catch (error) {
        // Cancelled by the caller: their reason, not a network error, and no retry.
        if (cancel?.aborted) throw cancel.reason;
        // No answer, a timeout, or a connection cut while the answer was read.
        if (attempt < this.maxRetries) {
          await sleep(this.backoff(attempt, undefined), cancel);
          continue;
        }
        throw new ConnectionError(
          0,
          'connection_error',
          `Gatehouse unreachable: ${reasonOf(error)}`,
          [],
          undefined,
          {
            cause: error,
          },
        );
      } finally {
        linked?.release();
      }
      // Gatehouse never redirects: a redirect comes from something in front of it. Followed, a
      // write answered 301, 302 or 303 became a GET, and create() resolved with a list, nothing
      // written; to another origin the key was dropped (a bare 401). Not retried. (A browser
      // gives an 'opaqueredirect', status 0, without the Location.)
      if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
        const location = response.headers.get('location');
        throw new GatehouseError(
          response.status,
          'invalid_response',
          `Not an answer from Gatehouse (HTTP ${response.status}, a redirect${location ? ` to ${location}` : ''}, not followed): is ${this.baseUrl} its address?`,
        );
      }
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : parseJson(text);
      } catch {
        parsed = undefined;
      }
      if (response.ok) {
        // Every answer of Gatehouse's is a JSON object: anything else (a web page answered 200)
        // came from another server, and reading `.data` from it would be a bare TypeError.
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as R;
        const type = response.headers.get('content-type') ?? 'no Content-Type';
        throw new GatehouseError(
          response.status,
          'invalid_response',
          `Not an answer from Gatehouse (HTTP ${response.status}, ${type}, not a JSON object): is ${this.baseUrl} its address?`,
        );
      }
      const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
      const error = errorFromResponse(response.status, parsed, retryAfter);
      // 409 idempotency_key_in_flight: the same write (an earlier attempt) is still running.
      const inFlight = response.status === 409 && error.code === 'idempotency_key_in_flight';
      // 507 storage_full: the server's disk is full, which no retry seconds later changes.
      const retryable =
        response.status === 429 || (response.status >= 500 && response.status !== 507) || inFlight;
      if (!retryable || attempt >= this.maxRetries) throw error;
      const wait = this.backoff(attempt, retryAfter);
      // setTimeout fires at once past 2^31 - 1 ms (~24.8 days): such a wait is never slept. Only
      // the server's Retry-After is held to maxRetryWaitMs: the backoff's own waits (at most 8 s)
      // are not, or a small maxRetryWaitMs would end the retries at random.
      if (retryAfter !== undefined && wait > Math.min(this.maxRetryWaitMs, 2 ** 31 - 1)) throw error;
      await sleep(wait, cancel);
    }
  }

  private backoff(attempt: number, retryAfterSeconds: number | undefined): number {
    if (retryAfterSeconds !== undefined) return retryAfterSeconds * 1000;
    const cap = Math.min(8_000, 250 * 2 ** attempt);
    return Math.random() * cap;
  }
}

/** Why fetch got no answer: its message, with what the connection met (failureDetail). */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const detail = failureDetail(error);
  return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
}

/**
 * `Retry-After` in seconds: delay-seconds as Gatehouse sends it, or an HTTP date (RFC 9110), as a
 * proxy or load balancer in front of it may send; undefined when absent or unreadable.
 */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  // An HTTP date names its day or month; Date.parse alone would also take "-5" as a year.
  const at = /[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** '' or a dot segment: as one segment of a URL path it names the level above or the same one. */
function isDotOrEmpty(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..';
}

export class Records<T> {
  constructor(
    private readonly client: { request<R>(req: RequestOptions): Promise<R> },
    private readonly slug: string,
  ) {}

  private path(id?: string): string {
    // A slug or id of '', '.' or '..' names nothing, yet the URL would name something else: a URL
    // drops '.' as a dot segment (encoded or not) and '..' goes up a level, so `records('.')
    // .get('orders')` read the orders list as one record and `get('.')` the first page. Each is
    // the answer the server gives an unknown endpoint or record.
    if (isDotOrEmpty(this.slug))
      throw new NotFoundError(404, 'endpoint_not_found', `Endpoint "${this.slug}" not found`);
    if (id !== undefined && isDotOrEmpty(id))
      throw new NotFoundError(404, 'record_not_found', 'Record not found');
    return `/api/v1/data/${encodeURIComponent(this.slug)}${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;
  }

  private writeHeaders(options: WriteOptions = {}): Record<string, string> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    if (options.callback) {
      headers['x-webhook-callback'] = options.callback.url;
      if (options.callback.auth !== undefined) headers['x-webhook-auth'] = options.callback.auth;
      if (options.callback.authHeader !== undefined)
        headers['x-webhook-auth-header'] = options.callback.authHeader;
    }
    return headers;
  }

  async create(data: T, options?: WriteOptions): Promise<Queued> {
    return this.client.request({
      method: 'POST',
      path: this.path(),
      body: data,
      headers: this.writeHeaders(options),
      signal: options?.signal,
    });
  }

  async get(id: string, options: CallOptions = {}): Promise<GatehouseRecord<T>> {
    return (
      await this.client.request<{ data: GatehouseRecord<T> }>({
        method: 'GET',
        path: this.path(id),
        signal: options.signal,
      })
    ).data;
  }

  async replace(id: string, data: T, options?: WriteOptions): Promise<Queued> {
    return this.client.request({
      method: 'PUT',
      path: this.path(id),
      body: data,
      headers: this.writeHeaders(options),
      signal: options?.signal,
    });
  }

  async delete(id: string, options?: WriteOptions): Promise<Queued> {
    return this.client.request({
      method: 'DELETE',
      path: this.path(id),
      headers: this.writeHeaders(options),
      signal: options?.signal,
    });
  }

  async listPage(params: ListParams<T> = {}): Promise<Page<T>> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.order) query.set('order', params.order);
    if (params.after) query.set('after', params.after);
    // A filter left undefined is no filter (as an unset limit or order), not the text "undefined".
    for (const [field, value] of Object.entries(params.filter ?? {}))
      if (value !== undefined) query.set(`filter[${field}]`, String(value));
    const qs = query.toString();
    const res = await this.client.request<{
      data: GatehouseRecord<T>[];
      meta: { next_cursor: string | null };
    }>({
      method: 'GET',
      path: `${this.path()}${qs ? `?${qs}` : ''}`,
      signal: params.signal,
    });
    return { data: res.data, nextCursor: res.meta.next_cursor };
  }

  /** Every record, page after page: `for await (const r of gh.records('orders').list()) …` */
  async *list(params: Omit<ListParams<T>, 'after'> = {}): AsyncGenerator<GatehouseRecord<T>> {
    let after: string | undefined;
    do {
      const page = await this.listPage({ ...params, after });
      yield* page.data;
      after = page.nextCursor ?? undefined;
    } while (after);
  }
}

export { GatehouseError };
