import { NOT_BLANK } from '../endpoints/json-schema.ts';

/**
 * A password being chosen (init, an invite accepted, a change, a reset): 8 characters at least,
 * and not only spaces or other whitespace (`Must not be blank`, as a blank name is refused).
 */
export const NEW_PASSWORD = { type: 'string', minLength: 8, maxLength: 1024, pattern: NOT_BLANK } as const;
