export interface KeyAnswer {
  status: number;
  retryAfter: string | null;
  body: { id?: string; code?: string; error?: string; data?: unknown[] };
  /** How long the answer took, in ms. */
  ms: number;
}

/** One call to the data API with an API key, its JSON body parsed, timed. */
export async function keyCall(
  base: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<KeyAnswer> {
  const started = Date.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const parsed = (await res.json()) as KeyAnswer['body'];
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: parsed,
    ms: Date.now() - started,
  };
}
