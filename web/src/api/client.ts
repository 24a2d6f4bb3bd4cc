import { parseJson, stringifyJson } from './exact-json.ts';
/** The management API over the session cookie: JSON in and out, CSRF token on every write. */

export interface ErrorDetail {
  field: string;
  error: string;
}

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetail[];

  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = 'ApiFailure';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface ApiResult<T> {
  data: T;
  meta?: { next_cursor?: string | null; [key: string]: unknown };
}

let csrfToken: string | null = null;
/** Whose session the token is of: another tab may sign in as someone else under the same cookie. */
let csrfUserId: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** The session's CSRF token; `userId` (when given) says whose session it is. */
export function setCsrfToken(token: string | null, userId?: string | null): void {
  csrfToken = token;
  if (userId !== undefined) csrfUserId = userId;
}

/** Called when a signed-in call answers 401: the session is gone, back to sign-in. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** The envelope is `{success:false, error, code, details}`; an older shape nests them in `error`. */
function toFailure(status: number, body: unknown): ApiFailure {
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; code?: unknown; details?: unknown; message?: unknown };
    if (b.error && typeof b.error === 'object') {
      const e = b.error as { code?: unknown; message?: unknown; details?: unknown };
      return new ApiFailure(
        status,
        String(e.code ?? 'error'),
        String(e.message ?? `Request failed (${status})`),
        Array.isArray(e.details) ? (e.details as ErrorDetail[]) : [],
      );
    }
    return new ApiFailure(
      status,
      String(b.code ?? 'error'),
      String(b.error ?? b.message ?? `Request failed (${status})`),
      Array.isArray(b.details) ? (b.details as ErrorDetail[]) : [],
    );
  }
  return new ApiFailure(status, 'error', `Request failed (${status})`);
}

export interface CallOptions {
  body?: unknown;
  /** Do not send the user to sign-in on a 401 (the sign-in calls themselves). */
  allowUnauthorized?: boolean;
  /** Sent again once already, with the session's new CSRF token. */
  csrfRenewed?: boolean;
}

/**
 * The session's CSRF token as the server has it now, when the session is still this user's. Another
 * tab of this browser shares the cookie and may have renewed the token (a password change keeps
 * the session under a new token; a sign-in there makes a new one).
 */
async function renewedCsrfToken(): Promise<string | null> {
  try {
    const response = await fetch('/admin/v1/session', {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (!response.ok) return null;
    const info = parseJson(await response.text()) as {
      data?: { csrf_token?: string; user?: { id?: string } };
    };
    const token = info.data?.csrf_token;
    return token && info.data?.user?.id === csrfUserId ? token : null;
  } catch {
    return null;
  }
}

export async function call<T>(
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = stringifyJson(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin' });
  } catch {
    throw new ApiFailure(0, 'network_error', 'Could not reach the server. Check your connection.');
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : parseJson(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    if (response.status === 401 && !options.allowUnauthorized) {
      // Signed in a moment ago: the session ended (expired, or signed out elsewhere).
      onUnauthorized?.();
      throw new ApiFailure(401, 'session_ended', 'Your session has ended: sign in again.');
    }
    const failure = toFailure(response.status, parsed);
    // Refused before it did anything: with the token the session has now, it goes once more.
    if (failure.code === 'csrf_failed' && !options.allowUnauthorized && !options.csrfRenewed) {
      const token = await renewedCsrfToken();
      if (token) {
        csrfToken = token;
        return call<T>(method, path, { ...options, csrfRenewed: true });
      }
      // Signed out there, or in as someone else: this page's session has ended.
      onUnauthorized?.();
      throw new ApiFailure(401, 'session_ended', 'Your session has ended: sign in again.');
    }
    throw failure;
  }
  const envelope = (parsed ?? {}) as { data?: T; meta?: ApiResult<T>['meta'] };
  return { data: envelope.data as T, meta: envelope.meta };
}

export const api = {
  get: <T>(path: string, query?: Query) => call<T>('GET', withQuery(path, query)).then((r) => r.data),
  page: <T>(path: string, query?: Query) => call<T>('GET', withQuery(path, query)),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, { body: body ?? {} }).then((r) => r.data),
  put: <T>(path: string, body: unknown) => call<T>('PUT', path, { body }).then((r) => r.data),
  patch: <T>(path: string, body: unknown) => call<T>('PATCH', path, { body }).then((r) => r.data),
  del: <T>(path: string) => call<T>('DELETE', path).then((r) => r.data),
};

/** An error as one line of text: an API refusal's message with every one of its details. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiFailure) {
    const extra = error.details.map((d) => `${d.field}: ${d.error}`).join('; ');
    return extra ? `${error.message} (${extra})` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
