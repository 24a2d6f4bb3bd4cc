import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { refuseClosedEndpoint } from '../endpoints/endpoint-open.ts';
import type { EndpointService, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { validationDetails } from '../endpoints/json-schema.ts';
import { ApiError, type ErrorDetail, invalid } from '../errors.ts';
import { jsonText } from '../http/json-body.ts';
import { newId } from '../ids.ts';
import type { Db } from '../infra/db/database.ts';
import type { Environment } from '../keys/key-service.ts';
import type { RecordWriter, WriteCommand } from './record-writer.ts';

const MAX_BATCH = 5_000;
/** Rejected rows an import answer lists (with their details); the others are counted. */
const LISTED_ERRORS = 1_000;
const EXPORT_PAGE = 1_000;

type SlugParams = { slug: string };

function environmentOf(query: Record<string, unknown>): Environment {
  const env = query.environment ?? 'test';
  if (env !== 'test' && env !== 'live') throw invalid('environment', 'Must be test or live');
  return env;
}

/**
 * A yes/no query parameter: `true` or `false` (or absent). Anything else is refused, never read
 * as false: `strict=1` used to import the valid rows of a batch its caller meant all or nothing.
 */
function flag(query: Record<string, unknown>, name: string): boolean {
  const value = query[name];
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw invalid(name, 'Must be true or false');
}

/**
 * The endpoint's schema version for `environment`. An import is a write: a deactivated endpoint
 * or one whose subscription expired refuses it as the data API refuses writes there (403
 * endpoint_inactive, subscription_expired), dry run or not. An export reads the owner's own data
 * out, whatever the endpoint's state.
 */
async function versionFor(
  endpoints: EndpointService,
  slug: string,
  environment: Environment,
  action: 'import' | 'export',
): Promise<{ id: string; version: SchemaVersion }> {
  const runtime = await endpoints.runtime(slug);
  if (!runtime) throw new ApiError('endpoint_not_found', { message: `Endpoint "${slug}" not found` });
  if (action === 'import') refuseClosedEndpoint(runtime);
  const version = environment === 'live' ? runtime.live : runtime.draft;
  if (!version) throw new ApiError('endpoint_not_deployed');
  return { id: runtime.id, version };
}

/**
 * Bulk transfer for the CLI (`gatehouse records import|export`), through the management API.
 * Import: one batch of records per call, validated like the data API, written in one
 * transaction; invalid rows are reported by index (and refuse the whole batch with `strict`).
 * Imports fire no webhooks unless `webhooks=true`. Export: NDJSON of each record's data,
 * streamed page by page in constant memory.
 */
export function registerTransferRoutes(
  app: FastifyInstance,
  deps: { db: Db; endpoints: EndpointService; writer: RecordWriter },
): void {
  // Each record sits two levels down ({"records":[…]}): as deep as the data API takes one, no deeper.
  app.post<{ Params: SlugParams }>(
    '/admin/v1/endpoints/:slug/import',
    {
      config: {
        jsonWrapDepth: 2,
        query: {
          environment: 'test (default) or live',
          strict: 'true: refuse the whole batch when one record is invalid',
          webhooks: 'true: fire webhooks for the imported records',
          dry_run: 'true: only check the records, write none',
        },
      },
    },
    async (request) => {
      const query = request.query as Record<string, unknown>;
      const environment = environmentOf(query);
      const strict = flag(query, 'strict');
      const webhooks = flag(query, 'webhooks');
      const dryRun = flag(query, 'dry_run');
      const { id: endpointId, version } = await versionFor(
        deps.endpoints,
        request.params.slug,
        environment,
        'import',
      );
      const body = request.body as { records?: unknown } | undefined;
      if (!body || !Array.isArray(body.records)) throw invalid('records', 'Send {"records":[…]}');
      if (body.records.length > MAX_BATCH) throw invalid('records', `At most ${MAX_BATCH} records per call`);
      // The answer lists the first LISTED_ERRORS rejected rows; the rest are only counted, and
      // their details (up to 100 of a kilobyte each) are never built.
      const errors: Array<{ index: number; details: ErrorDetail[] }> = [];
      let rejected = 0;
      const reject = (index: number, details: () => ErrorDetail[]) => {
        if (rejected++ < LISTED_ERRORS) errors.push({ index, details: details() });
      };
      const commands: WriteCommand[] = [];
      body.records.forEach((data: unknown, index: number) => {
        if (typeof data !== 'object' || data === null || Array.isArray(data)) {
          reject(index, () => [{ field: '(record)', error: 'Must be a JSON object' }]);
        } else if (!version.validate(data)) {
          reject(index, () => validationDetails(version.validate));
        } else {
          const text = jsonText(data);
          // As the data API answers such a body 413.
          if (Buffer.byteLength(text) > version.maxBodyBytes) {
            const error = `Larger than the endpoint's max_body_bytes (${version.maxBodyBytes})`;
            reject(index, () => [{ field: '(record)', error }]);
            return;
          }
          commands.push({
            operation: 'create',
            endpointId,
            slug: request.params.slug,
            environment,
            recordId: newId('record'),
            data: text,
            requestId: newId('request'),
            keyId: null,
            source: webhooks ? 'api' : 'import',
            callback: null,
          });
        }
      });
      if (strict && rejected > 0) {
        throw new ApiError('validation_failed', {
          message: `${rejected} of ${body.records.length} records are invalid; nothing was imported`,
          details: errors
            .slice(0, 100)
            .flatMap((e) => e.details.map((d) => ({ field: `[${e.index}].${d.field}`, error: d.error }))),
        });
      }
      // dry_run: the same checks and answer, nothing written (the CLI's --strict checks a whole file first).
      if (dryRun) {
        return {
          success: true,
          data: {
            imported: 0,
            valid: commands.length,
            rejected,
            errors,
          },
        };
      }
      if (commands.length > 0) {
        // Refused only as a whole: the endpoint was deleted while the batch waited (404, none written).
        const refused = (await deps.writer.writeAll(commands)).find((outcome) => !outcome.ok);
        if (refused && !refused.ok) throw refused.error;
      }
      return {
        success: true,
        data: { imported: commands.length, rejected, errors },
      };
    },
  );

  app.get<{ Params: SlugParams }>(
    '/admin/v1/endpoints/:slug/export',
    { config: { query: { environment: 'test (default) or live' } } },
    async (request, reply) => {
      const environment = environmentOf(request.query as Record<string, unknown>);
      const { id: endpointId } = await versionFor(deps.endpoints, request.params.slug, environment, 'export');
      async function* lines(): AsyncGenerator<string> {
        let after = 0;
        for (;;) {
          const rows = await deps.db
            .selectFrom('records')
            .select(['seq', 'data'])
            .where('endpoint_id', '=', endpointId)
            .where('environment', '=', environment)
            .where('seq', '>', after)
            .orderBy('seq')
            .limit(EXPORT_PAGE)
            .execute();
          if (rows.length === 0) return;
          yield `${rows.map((r) => r.data).join('\n')}\n`;
          after = rows[rows.length - 1]?.seq ?? after;
        }
      }
      return reply.type('application/x-ndjson').send(Readable.from(lines()));
    },
  );
}
