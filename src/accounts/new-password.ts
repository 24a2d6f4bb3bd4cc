import { BLANK_MESSAGE, isBlank } from '../endpoints/not-blank.ts';

/** A password being chosen: its length, which NEW_PASSWORD's schema and the dashboard both check. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * What is wrong with a password being chosen, in the words its field shows, or undefined: the
 * dashboard's check before sending, the same rule as NEW_PASSWORD (and the same blank message).
 */
export function newPasswordProblem(password: string): string | undefined {
  if (isBlank(password)) return BLANK_MESSAGE;
  if (password.length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters`;
  return undefined;
}
