import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for secrets that must be read back (webhook signing secrets, callback auth
 * values), keyed from the installation secret. Format: `v1.<iv>.<tag>.<ciphertext>`, base64url.
 */
export interface Encryptor {
  encrypt(plain: string): string;
  decrypt(sealed: string): string;
}

/** A sealed value that this key cannot open: made with another installation secret, or altered. */
export class UnsealError extends Error {}

const TAG_BYTES = 16;

export function createEncryptor(installationSecret: string): Encryptor {
  const key = createHash('sha256').update(`gatehouse:encryption:${installationSecret}`).digest();
  return {
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `v1.${iv.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}.${body.toString('base64url')}`;
    },
    decrypt(sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || body === undefined)
        throw new UnsealError('unreadable sealed value');
      // The full 16-byte tag only: GCM otherwise checks as many bytes as it is given, and a
      // value altered in the database with a 4-byte tag would open after ~2^32 tries.
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      try {
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new UnsealError('sealed value does not open with this key');
      }
    },
  };
}

/** Whether a sealed value opens with this installation secret (false where it does not; other errors thrown). */
export function opensWith(secret: string, sealed: string): boolean {
  try {
    createEncryptor(secret).decrypt(sealed);
    return true;
  } catch (error) {
    if (error instanceof UnsealError) return false;
    throw error;
  }
}
