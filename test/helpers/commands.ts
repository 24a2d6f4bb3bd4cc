import { newId } from '../../src/ids.ts';
import type { WriteCommand } from '../../src/records/record-writer.ts';

/** A create as the data API would hand it to the record writer; `extra` overrides any field. */
export function createCommand(
  endpoint: { id: string; slug: string },
  data: unknown,
  extra: Partial<WriteCommand> = {},
): WriteCommand {
  return {
    operation: 'create',
    endpointId: endpoint.id,
    slug: endpoint.slug,
    environment: 'test',
    recordId: newId('record'),
    data: JSON.stringify(data),
    requestId: newId('request'),
    keyId: null,
    source: 'api',
    callback: null,
    ...extra,
  };
}

/** A replace of an existing record, as the data API hands it to the record writer. */
export function replaceCommand(
  endpoint: { id: string; slug: string },
  recordId: string,
  data: unknown,
): WriteCommand {
  return createCommand(endpoint, data, { operation: 'replace', recordId });
}

/** A delete of an existing record, as the data API hands it to the record writer. */
export function deleteCommand(endpoint: { id: string; slug: string }, recordId: string): WriteCommand {
  return createCommand(endpoint, {}, { operation: 'delete', recordId, data: null });
}
