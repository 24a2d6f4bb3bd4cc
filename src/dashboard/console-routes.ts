import type { FastifyInstance, FastifyRequest } from 'fastify';
import { refuseClosedEndpoint } from '../endpoints/endpoint-open.ts';
import type { EndpointRuntime, EndpointService, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { ApiError } from '../errors.ts';
import { isId, newId } from '../ids.ts';
import { LIST_QUERY, parseListQuery, type RecordReader } from '../records/record-reader.ts';
import type { RecordWriter, WriteOperation } from '../records/record-writer.ts';
import { recordData } from '../records/routes.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

type Params = { slug: string; id?: string };

/**
 * The production console (owner only): live records of an endpoint, browsed with the data
 * API's cursor and filters, and written at once through the same writer. Console writes are
 * marked `source: console` and fire no webhooks (the outbox only announces `api` writes). An
 * endpoint closed to traffic (deactivated, subscription expired) is closed to console writes
 * too, as to the data API's and an import's; its records can still be read.
 */
export function registerConsoleRoutes(
  app: FastifyInstance,
  deps: { endpoints: EndpointService; reader: RecordReader; writer: RecordWriter },
): void {
  async function live(slug: string): Promise<{ endpoint: EndpointRuntime; version: SchemaVersion }> {
    const endpoint = await deps.endpoints.runtime(slug);
    if (!endpoint) throw new ApiError('endpoint_not_found', { message: `Endpoint "${slug}" not found` });
    if (!endpoint.live) {
      throw new ApiError('endpoint_not_deployed', { message: `Endpoint "${slug}" has no deployed version` });
    }
    return { endpoint, version: endpoint.live };
  }

  function recordId(request: FastifyRequest): string {
    const { id } = request.params as Params;
    if (!id || !isId('record', id)) throw new ApiError('record_not_found');
    return id;
  }

  async function write(
    request: FastifyRequest,
    operation: WriteOperation,
    id: string,
  ): Promise<string | null> {
    const { slug } = request.params as Params;
    const { endpoint, version } = await live(slug);
    // Written as the data API writes: not into an endpoint its owner closed (as an import too).
    refuseClosedEndpoint(endpoint);
    let data: string | null = null;
    if (operation !== 'delete') {
      data = recordData(request.body, version);
    } else {
      // 404 for a record that is not this endpoint's live record.
      await deps.reader.get(endpoint, 'live', id);
    }
    const outcome = await deps.writer.write({
      operation,
      endpointId: endpoint.id,
      slug: endpoint.slug,
      environment: 'live',
      recordId: id,
      data,
      requestId: request.id,
      keyId: null,
      source: 'console',
      callback: null,
    });
    if (!outcome.ok) throw outcome.error;
    return operation === 'delete' ? null : deps.reader.get(endpoint, 'live', id);
  }

  app.get<{ Params: Params }>(
    '/admin/v1/console/:slug/records',
    { config: { query: LIST_QUERY } },
    async (request, reply) => {
      const { endpoint, version } = await live(request.params.slug);
      const query = parseListQuery(request.query as Record<string, unknown>, version);
      const page = await deps.reader.list(endpoint, 'live', query);
      const cursor = page.nextCursor === null ? 'null' : `"${page.nextCursor}"`;
      return reply
        .type(JSON_TYPE)
        .send(
          `{"success":true,"data":${page.items},"meta":{"next_cursor":${cursor},"limit":${query.limit}}}`,
        );
    },
  );

  app.get<{ Params: Params }>('/admin/v1/console/:slug/records/:id', async (request, reply) => {
    const { endpoint } = await live(request.params.slug);
    const json = await deps.reader.get(endpoint, 'live', recordId(request));
    return reply.type(JSON_TYPE).send(`{"success":true,"data":${json}}`);
  });

  app.post<{ Params: Params }>('/admin/v1/console/:slug/records', async (request, reply) => {
    const json = await write(request, 'create', newId('record'));
    return reply.code(201).type(JSON_TYPE).send(`{"success":true,"data":${json}}`);
  });

  app.put<{ Params: Params }>('/admin/v1/console/:slug/records/:id', async (request, reply) => {
    const json = await write(request, 'replace', recordId(request));
    return reply.type(JSON_TYPE).send(`{"success":true,"data":${json}}`);
  });

  app.delete<{ Params: Params }>('/admin/v1/console/:slug/records/:id', async (request) => {
    const id = recordId(request);
    await write(request, 'delete', id);
    return { success: true, data: { id, deleted: true } };
  });
}
