/** Writes docs/errors.md from the error-code table in src/errors.ts (`npm run docs:errors`). */
import { writeFileSync } from 'node:fs';
import { cliErrorCodes } from '../src/cli/output.ts';
import { type ErrorApi, errorCodes } from '../src/errors.ts';

/** The API column: which API can answer with a code (each OpenAPI document lists only its own). */
function apiNames(apis: readonly ErrorApi[]): string {
  return apis.length === 2 ? 'both' : apis.join(', ');
}

export function renderErrorsDoc(): string {
  const rows = Object.entries(errorCodes)
    .sort(([a, x], [b, y]) => x.status - y.status || a.localeCompare(b))
    .map(([code, e]) => `| ${e.status} | \`${code}\` | ${apiNames(e.apis)} | ${e.message} | ${e.doc} |`);
  const cliRows = Object.entries(cliErrorCodes).map(([code, doc]) => `| \`${code}\` | ${doc} |`);
  return `# Error codes

Every error, from every route, has one shape:

\`\`\`json
{"success":false,"error":"Validation failed","code":"validation_failed","details":[{"field":"order_id","error":"Required field is missing"}],"request_id":"req_…"}
\`\`\`

- \`error\` is a human-readable message; \`code\` is stable and meant for programs. The table gives
  each code's usual message; many responses say more (which header, which window, which step), so
  match on \`code\`, never on \`error\`.
- \`details\` lists one entry per offending field (empty when there is nothing to point at).
  Where a schema refuses a body (\`validation_failed\`, \`invalid_request\`), a key of the body longer
  than 100 characters is shortened in a field to its first 100 and \`…\`, and a field longer than 1000
  characters to its first 1000 and \`…\`.
- \`request_id\` is also sent as the \`Request-Id\` response header and appears in logs and webhook deliveries.
- Every 401 also carries \`WWW-Authenticate: Bearer realm="gatehouse"\` (RFC 9110 asks a 401 to name how to
  authenticate): send the credential as \`Authorization: Bearer …\` (on the data API, \`X-API-Key\` too).
- A 5xx never carries a stack trace or SQL; the server logs the cause under the same request id.

This file is generated from \`src/errors.ts\` by \`npm run docs:errors\`; a test fails when they differ.
The API column says which API can answer with a code: \`data\` (API keys: records, App routes,
\`/api/v1/account\`, \`/api/v1/tokens\`, \`/health\`), \`management\` (\`/admin/v1\`: the dashboard and the
CLI) or both; each API's OpenAPI document lists only its own codes.

| status | code | API | error | when |
|---|---|---|---|---|
${rows.join('\n')}

## The CLI

With \`--json\` a failing command prints the same envelope on stdout (\`details\` empty when there
is nothing to point at, no \`request_id\` when no request was made) and exits 1; without it,
\`Error: <error> (<code>)\` and the details on stderr, each named by the option you typed for it, with the
API field beside it when the names differ (\`--target (url): Only http and https URLs\`, \`--name: …\`; a
field no option set, such as one in an \`apps create --file\` definition, keeps its own name). Errors
from the server keep the codes above; the CLI adds these:

| code | when |
|---|---|
${cliRows.join('\n')}
`;
}

if (process.argv[1]?.endsWith('errors-doc.ts')) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
}
