import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { base62 } from '../../ids.ts';

/**
 * Secrets look like `<prefix>_<random><checksum>` (API keys put the environment in the prefix:
 * `gk_live_…`). 190 bits of randomness in 32 base62 characters, then a 6-character CRC-32 of
 * everything before it, so a mistyped or invented secret is refused without a database
 * lookup, and a secret scanner can recognise a leaked one.
 */

const RANDOM_CHARS = 32;
const CHECKSUM_CHARS = 6;

function checksum(body: string): string {
  const n = crc32(body);
  return base62(Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), CHECKSUM_CHARS);
}

export function generateSecret(prefix: string): string {
  const random = base62(randomBytes(24), RANDOM_CHARS + 1).slice(-RANDOM_CHARS);
  const body = `${prefix}_${random}`;
  return body + checksum(body);
}

/** True when `secret` is `<prefix>_` + 38 base62 characters whose last 6 are the checksum of the rest. */
export function hasValidChecksum(secret: string, prefix: string): boolean {
  if (secret.length !== prefix.length + 1 + RANDOM_CHARS + CHECKSUM_CHARS) return false;
  if (!secret.startsWith(`${prefix}_`)) return false;
  const tail = secret.slice(prefix.length + 1);
  if (!/^[0-9A-Za-z]+$/.test(tail)) return false;
  const body = secret.slice(0, -CHECKSUM_CHARS);
  return checksum(body) === secret.slice(-CHECKSUM_CHARS);
}
