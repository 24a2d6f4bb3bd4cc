import { type IncomingHttpHeaders, validateHeaderValue } from 'node:http';
import { type ApiError, invalid } from '../errors.ts';

/** A request as Node gives it, or as Fastify does (Node's request on `raw`). */
export interface WithHeaders {
  headers: IncomingHttpHeaders;
  rawHeaders?: string[];
  raw?: { rawHeaders: string[] };
}

/**
 * A header the client may send at most once; 400 naming it (`field`) when sent more often.
 * Node joins repeated custom headers into one value ("a, b"), so repeats are counted in the raw
 * header lines, and only when the header is there at all.
 */
export function singleHeader(
  request: WithHeaders,
  name: string,
  field: string,
  error: string,
): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value) || sentMoreThanOnce(request, name)) throw invalid(field, error);
  return value;
}

/** Whether Node would send the header as it is (it throws on control characters and on text past U+00FF). */
export function sendableHeader(name: string, value: string): boolean {
  try {
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

/** Whether the header `name` (lower case) was sent more than once; its raw lines are read only when it was sent at all. */
export function sentTwice(request: WithHeaders, name: string): boolean {
  return request.headers[name] !== undefined && sentMoreThanOnce(request, name);
}

/** Whether the header `name` (lower case) is in the raw header lines more than once. */
export function sentMoreThanOnce(request: WithHeaders, name: string): boolean {
  const lines = request.rawHeaders ?? request.raw?.rawHeaders ?? [];
  let seen = 0;
  for (let i = 0; i < lines.length; i += 2) {
    const line = lines[i] as string;
    // Compared as sent first: most clients send the name in lower case, which needs no copy.
    if (line.length === name.length && (line === name || line.toLowerCase() === name) && ++seen > 1)
      return true;
  }
  return false;
}

/**
 * A body's Content-Type sent twice (`application/json` and `text/plain`) is a 400: Node keeps the
 * first, which a proxy in front may not have, so the body could be read as other than its sender meant.
 */
export function refuseRepeatedContentType(request: WithHeaders): void {
  const repeated = repeatedContentType(request);
  if (repeated) throw repeated;
}

/** The 400 of a Content-Type sent twice, or undefined when it was sent once (or not at all). */
export function repeatedContentType(request: WithHeaders): ApiError | undefined {
  return sentTwice(request, 'content-type') ? invalid('Content-Type', 'Send the header once') : undefined;
}
