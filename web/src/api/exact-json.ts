/**
 * JSON with exact integers (the client package's): a record's 64-bit id of more digits than a
 * double holds is read as a bigint and written back digit for digit, never rounded on its way
 * through the dashboard.
 */
export { parseJson, stringifyJson } from '../../../packages/client/src/json.ts';
/** The server's own rule for a schema number a double would round (it refuses those). */
export { firstRoundedNumber, roundedNumberMessage } from '../../../src/infra/json/exact-json.ts';
