/**
 * The test key this browser last sent a test request with, per signed-in user (two people sharing
 * a browser each keep their own). Only the key's id is kept: the secret never reaches the browser.
 * Storage can be unavailable (a locked-down profile): then nothing is remembered.
 */

const storageKey = (userId: string) => `gatehouse:test-key:${userId}`;

export function lastTestKey(userId: string): string | null {
  try {
    return window.localStorage.getItem(storageKey(userId));
  } catch {
    return null;
  }
}

export function rememberTestKey(userId: string, keyId: string): void {
  try {
    window.localStorage.setItem(storageKey(userId), keyId);
  } catch {
    // Not remembered: the page falls back to the newest key next time.
  }
}
