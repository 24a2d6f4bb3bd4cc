/**
 * Something to read in it: not only spaces or other whitespace (Unicode's included, as `\S` is in
 * a `u` regular expression, which is how Ajv runs a schema's pattern). Free of imports: the
 * dashboard checks the same rule before sending.
 */
export const NOT_BLANK_PATTERN = '\\S';
export const BLANK_MESSAGE = 'Must not be blank';

const notBlank = new RegExp(NOT_BLANK_PATTERN, 'u');

export function isBlank(text: string): boolean {
  return !notBlank.test(text);
}
