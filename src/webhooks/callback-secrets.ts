import { createHmac } from 'node:crypto';
import { nowIso } from '../time.ts';

/**
 * Per-key callback signing secrets. Each API key's callbacks are signed with a secret of its
 * own, derived (never stored) from the installation's callback secret, the root:
 * `whsec_` + base64(HMAC-SHA256(root key bytes, LABEL + key id)), 32 bytes, the Standard
 * Webhooks format; after the key's n-th rotation of it, LABEL + key id + ":" + n. The same in
 * every process; a partner holding one key's secret learns nothing about another's, nor about
 * the root, nor about its own key's secret of another generation.
 */
const LABEL = 'gatehouse/callback-signing-secret/v1:';
/** Derived secrets kept per process; beyond this, the oldest is dropped (keys are few). */
const CACHED = 10_000;

export interface CallbackSecrets {
  /** The installation's callback secret: the root the per-key ones derive from. Never for partners. */
  readonly root: string;
  /** The secret that signs the callbacks of requests made with key `keyId`, in its `generation`. */
  forKey(keyId: string, generation?: number): string;
  /**
   * Every secret that signs a callback of key `keyId` now: its generation's, and during a
   * rotation's overlap (until `previousUntil`) the one before.
   */
  signing(keyId: string, generation: number, previousUntil: string | null): string[];
}

/** Whether, after a rotation, the generation before still signs: until its overlap ends. */
export function previousStillSigns(generation: number, previousUntil: string | null): boolean {
  return generation > 0 && previousUntil !== null && previousUntil > nowIso();
}

/** Standard Webhooks key bytes of a `whsec_` secret. */
function keyBytes(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

export function deriveCallbackSecret(root: string, keyId: string, generation = 0): string {
  // Generation 0 keeps the derivation keys had before rotation existed.
  const label = generation === 0 ? `${LABEL}${keyId}` : `${LABEL}${keyId}:${generation}`;
  return `whsec_${createHmac('sha256', keyBytes(root)).update(label).digest('base64')}`;
}

export function createCallbackSecrets(root: string): CallbackSecrets {
  const cache = new Map<string, string>();
  const secrets: CallbackSecrets = {
    root,
    signing(keyId, generation, previousUntil) {
      const now = secrets.forKey(keyId, generation);
      return previousStillSigns(generation, previousUntil)
        ? [now, secrets.forKey(keyId, generation - 1)]
        : [now];
    },
    forKey(keyId, generation = 0) {
      const name = generation === 0 ? keyId : `${keyId}:${generation}`;
      let secret = cache.get(name);
      if (secret === undefined) {
        secret = deriveCallbackSecret(root, keyId, generation);
        if (cache.size >= CACHED) {
          const oldest = cache.keys().next();
          if (!oldest.done) cache.delete(oldest.value);
        }
        cache.set(name, secret);
      }
      return secret;
    },
  };
  return secrets;
}
