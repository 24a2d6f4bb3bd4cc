import { NOT_BLANK } from '../endpoints/json-schema.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './new-password.ts';

/**
 * A password being chosen (init, an invite accepted, a change, a reset): 8 characters at least,
 * and not only spaces or other whitespace (`Must not be blank`, as a blank name is refused). The
 * dashboard checks the same rule first (newPasswordProblem).
 */
export const NEW_PASSWORD = {
  type: 'string',
  minLength: PASSWORD_MIN_LENGTH,
  maxLength: PASSWORD_MAX_LENGTH,
  pattern: NOT_BLANK,
} as const;
