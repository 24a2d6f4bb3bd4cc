import { randomBytes } from 'node:crypto';

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

let lastMs = 0;
let counter = 0;

/**
 * Ids sort by creation time: 48 bits of milliseconds, a 16-bit in-process counter
 * (so ids made in the same millisecond keep their order), then 64 random bits.
 */
export function newId<K extends IdKind>(kind: K): Id<K> {
  const now = Date.now();
  if (now === lastMs) counter = (counter + 1) & 0xffff;
  else {
    lastMs = now;
    counter = 0;
  }
  const buf = Buffer.allocUnsafe(16);
  buf.writeUIntBE(now, 0, 6);
  buf.writeUInt16BE(counter, 6);
  randomBytes(8).copy(buf, 8);
  return `${idPrefixes[kind]}_${base62(buf, 22)}` as Id<K>;
}

export function isId<K extends IdKind>(kind: K, value: string): value is Id<K> {
  return (
    value.startsWith(`${idPrefixes[kind]}_`) &&
    /^[0-9A-Za-z]{22}$/.test(value.slice(idPrefixes[kind].length + 1))
  );
}
