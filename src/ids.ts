import { randomFillSync } from 'node:crypto';

/** Every object id carries a prefix that names its kind. */
export const idPrefixes = {
  record: 'rec',
  request: 'req',
  key: 'key',
  endpoint: 'ep',
  event: 'evt',
  webhook: 'whk',
  delivery: 'dlv',
  owner: 'usr',
  token: 'tok',
  session: 'ses',
  invite: 'inv',
  audit: 'aud',
  testRequest: 'trq',
} as const;

export type IdKind = keyof typeof idPrefixes;
export type Id<K extends IdKind> = `${(typeof idPrefixes)[K]}_${string}`;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 of `bytes`, left-padded to a fixed width so that strings sort like the numbers. */
export function base62(bytes: Uint8Array, width: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, '0');
}

/** Fixed-width base62 of a non-negative integer below 2^53. */
function base62Number(value: number, width: number): string {
  let out = '';
  let n = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET.charAt(n % 62) + out;
    n = Math.floor(n / 62);
  }
  return out;
}

// Ids are made on every request: random bytes come from a pool, not a syscall each.
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

function randomChars(count: number): string {
  if (poolOffset + count > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < count; i++) out += ALPHABET.charAt((pool[poolOffset + i] ?? 0) % 62);
  poolOffset += count;
  return out;
}

let lastMs = 0;
let lastTime = base62Number(0, 9);
let counter = 0;

/**
 * Ids sort by creation time: milliseconds (9 chars), an in-process counter so that ids made in
 * the same millisecond keep their order (3 chars), then 10 random characters (~59 bits).
 */
export function newId<K extends IdKind>(kind: K): Id<K> {
  const now = Date.now();
  if (now === lastMs) counter = (counter + 1) % 238_328;
  else {
    lastMs = now;
    lastTime = base62Number(now, 9);
    counter = 0;
  }
  return `${idPrefixes[kind]}_${lastTime}${base62Number(counter, 3)}${randomChars(10)}` as Id<K>;
}

export function isId<K extends IdKind>(kind: K, value: string): value is Id<K> {
  const prefix = idPrefixes[kind];
  return (
    value.length === prefix.length + 23 &&
    value.startsWith(`${prefix}_`) &&
    /^[0-9A-Za-z]{22}$/.test(value.slice(prefix.length + 1))
  );
}
