import { type IdKind, idPrefixes } from '../ids.ts';
import { successContent } from './openapi-shared.ts';

/**
 * Helpers for the management API's response schemas (openapi-admin-*.ts, one file per area),
 * which are taken from what the services return (their `…Json` types). Objects list every field
 * sent, and `required` those always present; none sets `additionalProperties: false`, so a field
 * added later breaks no client. Where an object is another plus a field or two (a key and its
 * secret), the fields are copied rather than composed with allOf: one flat type per answer is
 * what code generators handle best.
 */

export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

export const time: Json = { type: 'string', format: 'date-time' };
export const maybeTime = (description: string): Json => ({
  type: ['string', 'null'],
  format: 'date-time',
  description,
});
export const id = (kind: IdKind): Json => ({ type: 'string', pattern: `^${idPrefixes[kind]}_` });
export const environment: Json = { enum: ['test', 'live'] };
export const role: Json = { enum: ['owner', 'collaborator'] };

/** An object whose fields are all sent, but those named `optional`. */
export function object(
  properties: Record<string, Json>,
  options: { optional?: string[]; description?: string } = {},
): Json {
  const optional = new Set(options.optional ?? []);
  return {
    type: 'object',
    ...(options.description ? { description: options.description } : {}),
    required: Object.keys(properties).filter((name) => !optional.has(name)),
    properties,
  };
}

/** `base` (an object()) with more fields, sent but those named `optional`. */
export function extended(
  base: Json,
  properties: Record<string, Json>,
  description: string,
  optional: string[] = [],
): Json {
  return {
    ...base,
    description,
    required: [
      ...(base.required as string[]),
      ...Object.keys(properties).filter((p) => !optional.includes(p)),
    ],
    properties: { ...(base.properties as Json), ...properties },
  };
}

export const shownOnce = (what: string): string =>
  `${what}. Shown in this answer only: it is stored hashed or encrypted and never returned again.`;

/** `{ <field>: <id or slug>, deleted: true }`: what a DELETE answers. */
export const deleted = (field: 'id' | 'slug', extra: Json = { type: 'string' }): Json =>
  object({ [field]: extra, deleted: { const: true } });

/** An array of a named shape. */
export const list = (item: string, description: string): Json => ({
  type: 'array',
  items: ref(item),
  description,
});

/** One page of a named shape, with the cursor (PageMeta). */
export const page = (item: string, description: string): Json =>
  successContent(list(item, description), ref('PageMeta'));

/** The envelope holding one named shape. */
export const one = (name: string): Json => successContent(ref(name));

/** The envelope holding an array of a named shape. */
export const many = (item: string, description: string): Json => successContent(list(item, description));
