import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Config } from '../config.ts';
import type { EndpointJson, EndpointVersionJson } from '../endpoints/endpoint-service.ts';
import type { KeyLimits } from '../keys/key-input.ts';
import type { ApiKeyJson } from '../keys/key-service.ts';
import { limitsText } from '../keys/limits-text.ts';
import { type ClientOptions, JsonText, managementClient } from './client.ts';
import { confirmFound, withYes } from './confirm.ts';
import { environmentOption } from './environment-option.ts';
import { setsFields, typedFields } from './option-fields.ts';
import { readOptionFile } from './option-file.ts';
import { CliFailure, printFields, printJson, printTable, reportFailure } from './output.ts';
import { pathSegment } from './path-segment.ts';

type Common = ClientOptions & { json?: boolean };

/** A management API path under one endpoint or one key (`/admin/v1/endpoints/orders/deploy`). */
export const endpointPath = (slug: string, tail = '') =>
  `/admin/v1/endpoints/${pathSegment(slug, 'endpoint')}${tail}`;
const keyPath = (id: string, tail = '') => `/admin/v1/keys/${pathSegment(id, 'key')}${tail}`;

export const collect = (value: string, previous: string[] = []) => [...previous, value];

function intOption(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
    return n;
  };
}

/** `--grace-seconds` of `keys roll` and `keys rotate-callback-secret`: how long the old secret lasts. */
const graceOption = (description: string) =>
  new Option('--grace-seconds <n>', description).argParser(intOption('--grace-seconds'));
/** The body `--grace-seconds` makes: the server's default when it is not given. */
const graceBody = (o: { graceSeconds?: number }) =>
  o.graceSeconds === undefined ? {} : { grace_seconds: o.graceSeconds };

/** `--per-minute`, `--per-day`, `--per-month` (keys create and update). */
function withLimitOptions(command: Command): Command {
  const windows = [
    ['--per-minute', 'requests per minute'],
    ['--per-day', 'requests per day'],
    ['--per-month', 'requests per calendar month'],
  ] as const;
  for (const [flag, what] of windows) {
    command.option(`${flag} <n>`, `${what}, or "none" (the installation default, if any)`, limitOption(flag));
  }
  return setsFields(command, {
    'limits.per_minute': '--per-minute',
    'limits.per_day': '--per-day',
    'limits.per_month': '--per-month',
  });
}

/** A key's limit: a positive integer, or "none" to remove it (an installation default then applies, if set). */
function limitOption(name: string) {
  // "none" stays a string here (commander turns a null from a parser into ""): keyLimits maps it.
  return (value: string): number | 'none' => {
    if (value === 'none') return value;
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer, or "none" for no limit of its own`);
    }
    return n;
  };
}

/**
 * `--expires-at`: an ISO 8601 date-time as the API takes it, or a bare date (YYYY-MM-DD), which
 * means the start of that day in UTC; "none" (where allowed) stays as it is.
 */
function expiryOption(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const start = `${value}T00:00:00Z`;
  if (Number.isNaN(Date.parse(start)) || new Date(start).toISOString().slice(0, 10) !== value) {
    throw new InvalidArgumentError(`${value} is not a date`);
  }
  return start;
}

export function usage(message: string): CliFailure {
  return new CliFailure({ success: false, error: message, code: 'cli_usage' });
}

/** `--field name:type[:required]` → a JSON Schema (object with those top-level properties). */
export function schemaFromFields(fields: string[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const spec of fields) {
    const parts = spec.split(':');
    const [name, type = 'string', flag] = parts;
    if (parts.length > 3) {
      throw usage(`--field "${spec}": use name:type[:required] (3 parts at most, this has ${parts.length})`);
    }
    if (!name || !['string', 'number', 'integer', 'boolean', 'object', 'array'].includes(type)) {
      throw usage(
        `--field "${spec}": use name:type[:required], type one of string, number, integer, boolean, object, array`,
      );
    }
    if (flag !== undefined && flag !== 'required')
      throw usage(`--field "${spec}": the third part can only be "required"`);
    // `a.b` would be a top-level field of that very name, not `b` within an object `a`.
    if (name.includes('.')) {
      throw usage(
        `--field "${spec}": fields given with --field are top-level and their names cannot hold "."; give nested objects with --schema or --schema-file`,
      );
    }
    if (Object.hasOwn(properties, name)) throw usage(`--field ${name} is given twice: give each field once`);
    properties[name] = { type };
    if (flag === 'required') required.push(name);
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

/**
 * `endpoints update --field/--remove-field`: the draft's schema with the given fields added or
 * redefined (each exactly as given: its type, and required or not) and the removed ones taken out;
 * every other field and keyword stays as it is. (A stored schema holds no integer that JSON.parse
 * rounds: the server refuses one when it is saved.)
 */
export function editedSchema(draft: unknown, fields: string[], removed: string[]): Record<string, unknown> {
  const schema = { ...(draft as Record<string, unknown>) };
  const given = schemaFromFields(fields) as { properties: Record<string, unknown>; required?: string[] };
  const properties: Record<string, unknown> = {
    ...(schema.properties as Record<string, unknown> | undefined),
  };
  const names = (list: unknown) => (Array.isArray(list) ? (list as unknown[]) : []);
  let required = names(schema.required);
  for (const name of new Set(removed)) {
    if (Object.hasOwn(given.properties, name))
      throw usage(`--field ${name} and --remove-field ${name}: give one of them`);
    if (!Object.hasOwn(properties, name)) {
      const known = Object.keys(properties);
      throw usage(
        `--remove-field ${name}: the draft has no field ${name} (${known.length ? `its fields: ${known.join(', ')}` : 'it has no fields'})`,
      );
    }
    delete properties[name];
    required = required.filter((n) => n !== name);
  }
  for (const [name, definition] of Object.entries(given.properties)) {
    properties[name] = definition;
    required = required.filter((n) => n !== name);
  }
  required.push(...(given.required ?? []));
  schema.properties = properties;
  if (required.length > 0) schema.required = required;
  else delete schema.required;
  return schema;
}

/** Parsed JSON options and the text they were parsed from: sent as written. */
const exactTexts = new WeakMap<object, string>();

/** JSON from an option's text, or a usage error that names the option. */
function jsonOption(name: string, text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usage(`${name} is not valid JSON: ${(error as Error).message}`);
  }
  // Sent as written, so that the server sees (and refuses) a long integer instead of its rounding.
  if (typeof value === 'object' && value !== null) exactTexts.set(value, text);
  return value;
}

/** An endpoint body as JSON text, its schema's numbers as the user wrote them. */
function endpointJson(body: Record<string, unknown>): JsonText {
  const { schema, ...rest } = body;
  const exact = typeof schema === 'object' && schema !== null ? exactTexts.get(schema) : undefined;
  if (exact === undefined) return new JsonText(JSON.stringify(body));
  const head = JSON.stringify(rest).slice(0, -1);
  return new JsonText(`${head}${head === '{' ? '' : ','}"schema":${exact}}`);
}

function readSchema(options: { schema?: string; schemaFile?: string; field?: string[] }): unknown {
  const given = [
    options.schemaFile !== undefined && '--schema-file',
    options.schema !== undefined && '--schema',
    options.field?.length && '--field',
  ].filter(Boolean);
  if (given.length > 1) throw usage(`${given.join(' and ')}: give the schema one way only`);
  if (options.schemaFile) {
    const text = readOptionFile('--schema-file', options.schemaFile);
    return jsonOption(`--schema-file ${options.schemaFile}`, text);
  }
  if (options.schema) return jsonOption('--schema', options.schema);
  if (options.field?.length) return schemaFromFields(options.field);
  return undefined;
}

export function withCommon(command: Command, json = 'print the API response as JSON'): Command {
  return command
    .option('--json', json)
    .option(
      '--url <url>',
      'Gatehouse base URL (default: GATEHOUSE_URL, the server started from this folder (./data/server.json), the init credentials, or http://HOST:PORT)',
    )
    .option('--token <token>', 'management token (default: GATEHOUSE_TOKEN or the init credentials)');
}

export function action<A extends unknown[]>(
  config: Config,
  run: (call: ReturnType<typeof managementClient>, ...args: A) => Promise<void>,
) {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const options = command.opts<Common>();
    try {
      await run(managementClient(config, options), ...args);
    } catch (error) {
      reportFailure(error, options.json === true, typedFields(command));
    }
  };
}

const endpointColumns = [
  'slug',
  'name',
  'active',
  'live_version',
  'draft_revision',
  'max_body_bytes',
  'expires_at',
];
const keyColumns = [
  'id',
  'name',
  'environment',
  'status',
  'start',
  'scopes',
  'limits',
  'last_used_at',
  'expires_at',
];

export function show(json: boolean | undefined, data: unknown, print: () => void): void {
  if (json) printJson({ success: true, data });
  else print();
}

/**
 * One key as a key route answers it, with the installation's default limits beside it
 * (`meta.default_limits`; undefined from a server that does not say them).
 */
async function keyAnswer<T>(
  call: ReturnType<typeof managementClient>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ data: T; defaults: KeyLimits | null | undefined }> {
  const response = await call<Response>(method, path, body, true);
  const envelope = (await response.json()) as { data: T; meta?: { default_limits?: KeyLimits | null } };
  return { data: envelope.data, defaults: envelope.meta?.default_limits };
}

/**
 * A key's fields for the terminal: `limits` as stored (its own), and `effective_limits`, what
 * applies: an empty `{}` under GATEHOUSE_DEFAULT_PER_DAY is limited all the same.
 */
function keyFields(key: ApiKeyJson, defaults: KeyLimits | null | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(key)) {
    // None left (its endpoints were deleted): said in words, not as `[]`.
    fields[name] =
      name === 'scopes' && Array.isArray(value) && value.length === 0
        ? 'none: every data call is refused (403 insufficient_scope) until it is given scopes'
        : value;
    if (name === 'limits') fields.effective_limits = limitsText(key.limits, defaults, 'terminal');
  }
  return fields;
}

function endpointBody(o: Record<string, unknown>, forCreate: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (forCreate) body.slug = o.slug;
  if (o.name !== undefined) body.name = o.name;
  const schema = readSchema(o as { schema?: string; schemaFile?: string; field?: string[] });
  if (schema !== undefined) body.schema = schema;
  if (o.maxBodyBytes !== undefined) body.max_body_bytes = o.maxBodyBytes;
  if (o.active !== undefined) body.active = o.active;
  if (o.expiresAt !== undefined) body.expires_at = o.expiresAt === 'none' ? null : o.expiresAt;
  if (o.maxRetries !== undefined || o.retryInterval !== undefined) {
    body.retry = { max_retries: o.maxRetries, interval_seconds: o.retryInterval };
  }
  return body;
}

function endpointOptions(command: Command, fieldHelp: string): Command {
  setsFields(command, {
    schema: ['--schema', '--schema-file', '--field'],
    'retry.max_retries': '--max-retries',
    'retry.interval_seconds': '--retry-interval',
  });
  return command
    .option('--name <name>', 'display name')
    .option('--schema <json>', 'JSON Schema, inline')
    .option('--schema-file <path>', 'JSON Schema, from a file (- reads stdin)')
    .option('--field <name:type[:required]>', fieldHelp, collect)
    .option('--max-body-bytes <n>', 'largest accepted body', intOption('--max-body-bytes'))
    .option(
      '--expires-at <when>',
      'subscription end: an ISO 8601 date-time, a date (its start, UTC), or "none"',
      expiryOption,
    )
    .option('--max-retries <n>', 'webhook retries', intOption('--max-retries'))
    .option('--retry-interval <seconds>', 'seconds between webhook retries', intOption('--retry-interval'));
}

function keyLimits(o: Record<string, unknown>): Record<string, unknown> | undefined {
  const limits: Record<string, unknown> = {};
  const set = (field: string, value: unknown) => {
    if (value !== undefined) limits[field] = value === 'none' ? null : value;
  };
  set('per_minute', o.perMinute);
  set('per_day', o.perDay);
  set('per_month', o.perMonth);
  return Object.keys(limits).length ? limits : undefined;
}

/** A version's top-level fields, for a table cell: `order_id*, amount*, paid` (* required). */
function fieldNames(schema: unknown): string {
  const { properties, required } = (schema ?? {}) as { properties?: object; required?: unknown };
  const needed = new Set(Array.isArray(required) ? required : []);
  const names = Object.keys(properties ?? {}).map((name) => (needed.has(name) ? `${name}*` : name));
  return names.length > 0 ? names.join(', ') : '(any)';
}

export function registerDataCommands(program: Command, config: Config): void {
  const endpoints = program.command('endpoints').description('define data endpoints (slug + JSON Schema)');

  setsFields(
    endpointOptions(
      withCommon(endpoints.command('create').description('create an endpoint (draft, used by test keys)')),
      'build the schema from top-level fields (repeatable)',
    ),
    { active: '--inactive' },
  )
    .requiredOption('--slug <slug>', 'URL slug: /api/v1/data/{slug}')
    .option('--inactive', 'create it inactive')
    .action(
      action(config, async (call, o: Record<string, unknown>) => {
        const body = endpointBody({ ...o, active: o.inactive ? false : undefined }, true);
        body.name ??= o.slug;
        if (body.schema === undefined) throw usage('Give the schema: --schema-file, --schema or --field');
        const data = await call<EndpointJson>('POST', '/admin/v1/endpoints', endpointJson(body));
        show(o.json as boolean, data, () => printFields({ ...data, schema: data.schema }));
      }),
    );

  withCommon(endpoints.command('list').description('list endpoints')).action(
    action(config, async (call, o: Common) => {
      const data = await call<EndpointJson[]>('GET', '/admin/v1/endpoints');
      show(o.json, data, () =>
        printTable(data as unknown as Array<Record<string, unknown>>, endpointColumns),
      );
    }),
  );

  withCommon(
    endpoints.command('show').alias('get').argument('<slug>').description('show one endpoint'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<EndpointJson>('GET', endpointPath(slug));
      show(o.json, data, () => printFields({ ...data }));
    }),
  );

  setsFields(
    endpointOptions(
      withCommon(endpoints.command('update').argument('<slug>').description('change the draft')),
      "add a top-level field to the draft's schema, or redefine one (repeatable); the other fields stay",
    ),
    {
      schema: ['--schema', '--schema-file', '--field', '--remove-field'],
      active: ['--activate', '--deactivate'],
    },
  )
    .option('--remove-field <name>', "take a field out of the draft's schema (repeatable)", collect)
    .option('--activate', 'make it active')
    .addOption(new Option('--deactivate', 'make it inactive (403 for all traffic)').conflicts('activate'))
    .action(
      action(config, async (call, slug: string, o: Record<string, unknown>) => {
        const active = o.activate ? true : o.deactivate ? false : undefined;
        const fields = (o.field as string[] | undefined) ?? [];
        const removed = (o.removeField as string[] | undefined) ?? [];
        const edits = fields.length > 0 || removed.length > 0;
        if (edits && (o.schema !== undefined || o.schemaFile !== undefined)) {
          const whole = o.schemaFile !== undefined ? '--schema-file' : '--schema';
          const part = fields.length > 0 ? '--field' : '--remove-field';
          throw usage(`${whole} and ${part}: give the whole schema or edit its fields, not both`);
        }
        const body = endpointBody({ ...o, field: undefined, active }, false);
        if (edits) {
          body.schema = editedSchema(
            (await call<EndpointJson>('GET', endpointPath(slug))).schema,
            fields,
            removed,
          );
        }
        if (Object.keys(body).length === 0) {
          throw usage(
            'Nothing to change: give --name, --schema, --schema-file, --field, --remove-field, --max-body-bytes, --expires-at, --max-retries, --retry-interval, --activate or --deactivate',
          );
        }
        const data = await call<EndpointJson>('PATCH', endpointPath(slug), endpointJson(body));
        show(o.json as boolean, data, () => printFields({ ...data }));
      }),
    );

  withCommon(
    endpoints
      .command('deploy')
      .argument('<slug>')
      .description('publish the draft to live as the next version (a new one even when nothing changed)'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<EndpointJson>('POST', endpointPath(slug, '/deploy'));
      show(o.json, data, () => printFields({ slug: data.slug, live_version: data.live_version }));
    }),
  );

  withCommon(
    endpoints.command('versions').argument('<slug>').description('deployed versions, newest first'),
  ).action(
    action(config, async (call, slug: string, o: Common) => {
      const data = await call<EndpointVersionJson[]>('GET', endpointPath(slug, '/versions'));
      show(o.json, data, () =>
        printTable(
          data.map((v) => ({ ...v, fields: fieldNames(v.schema) })),
          ['version', 'name', 'fields', 'max_body_bytes', 'created_at'],
        ),
      );
    }),
  );

  withYes(
    withCommon(
      endpoints.command('delete').argument('<slug>').description('delete an endpoint and its records'),
    ),
  ).action(
    action(config, async (call, slug: string, o: Common & { yes?: boolean }) => {
      await confirmFound(
        o,
        () => call<EndpointJson>('GET', endpointPath(slug)),
        (endpoint) =>
          `This deletes endpoint ${slug} (${endpoint.name}) with all its records (test and live) and its webhook subscriptions, for good.`,
        slug,
      );
      const data = await call<unknown>('DELETE', endpointPath(slug));
      show(o.json, data, () => process.stdout.write(`Deleted endpoint ${slug}\n`));
    }),
  );

  const keys = program.command('keys').description('issue and manage API keys');

  setsFields(
    withLimitOptions(
      withCommon(keys.command('create').description('create a key; the secret is shown once'))
        .requiredOption('--name <name>', 'what the key is for')
        .addOption(environmentOption('test or live').makeOptionMandatory())
        .option('--scope <scope>', 'scope, repeatable (default *): records:read, orders:write, …', collect),
    ),
    { environment: '--env', scopes: '--scope' },
  )
    .option('--expires-at <when>', 'expiry: an ISO 8601 date-time, or a date (its start, UTC)', expiryOption)
    .action(
      action(config, async (call, o: Record<string, unknown>) => {
        const body: Record<string, unknown> = { name: o.name, environment: o.env };
        if (o.scope) body.scopes = o.scope;
        const limits = keyLimits(o);
        if (limits) body.limits = limits;
        if (o.expiresAt) body.expires_at = o.expiresAt;
        const { data, defaults } = await keyAnswer<ApiKeyJson & { key: string }>(
          call,
          'POST',
          '/admin/v1/keys',
          body,
        );
        show(o.json as boolean, data, () => {
          printFields({
            id: data.id,
            name: data.name,
            environment: data.environment,
            scopes: data.scopes,
            limits: data.limits,
            effective_limits: limitsText(data.limits, defaults, 'terminal'),
            expires_at: data.expires_at,
            key: data.key,
          });
          process.stdout.write('\nCopy the key now: it is shown only once.\n');
        });
      }),
    );

  setsFields(
    withCommon(keys.command('list').description('list keys and their limits (never their secrets)')),
    {
      environment: '--env',
    },
  )
    .addOption(environmentOption('only test or live'))
    .action(
      action(config, async (call, o: Common & { env?: string }) => {
        const query = o.env ? `?environment=${encodeURIComponent(o.env)}` : '';
        // The whole envelope, for its meta.default_limits where the API gives them.
        const response = await call<Response>('GET', `/admin/v1/keys${query}`, undefined, true);
        const page = (await response.json()) as {
          data: ApiKeyJson[];
          meta?: { default_limits?: KeyLimits | null };
        };
        if (o.json) return printJson(page);
        const defaults = page.meta?.default_limits;
        printTable(
          page.data.map((key) => ({
            ...key,
            limits: limitsText(key.limits, defaults, 'terminal'),
          })),
          keyColumns,
        );
      }),
    );

  withCommon(keys.command('show').alias('get').argument('<id>').description('show one key')).action(
    action(config, async (call, id: string, o: Common) => {
      const { data, defaults } = await keyAnswer<ApiKeyJson>(call, 'GET', keyPath(id));
      show(o.json, data, () => printFields(keyFields(data, defaults)));
    }),
  );

  setsFields(
    withLimitOptions(
      withCommon(
        keys.command('update').argument('<id>').description("change a key's name, scopes, limits or expiry"),
      )
        .option('--name <name>', 'new name')
        .option('--scope <scope>', 'replace the scopes (repeatable)', collect),
    ),
    { scopes: '--scope' },
  )
    .option(
      '--expires-at <when>',
      'expiry: an ISO 8601 date-time, a date (its start, UTC), or "none"',
      expiryOption,
    )
    .action(
      action(config, async (call, id: string, o: Record<string, unknown>) => {
        const body: Record<string, unknown> = {};
        if (o.name !== undefined) {
          if (String(o.name).trim() === '') throw usage('--name cannot be empty');
          body.name = o.name;
        }
        if (o.scope) body.scopes = o.scope;
        const limits = keyLimits(o);
        if (limits) body.limits = limits;
        if (o.expiresAt) body.expires_at = o.expiresAt === 'none' ? null : o.expiresAt;
        if (Object.keys(body).length === 0) {
          throw usage(
            'Nothing to change: give --name, --scope, --per-minute, --per-day, --per-month or --expires-at',
          );
        }
        const { data, defaults } = await keyAnswer<ApiKeyJson>(call, 'PATCH', keyPath(id), body);
        show(o.json as boolean, data, () => printFields(keyFields(data, defaults)));
      }),
    );

  for (const [verb, text] of [
    ['deactivate', 'stop a key working (reversible)'],
    ['activate', 'let a deactivated key work again'],
    ['revoke', 'revoke a key for good'],
  ] as const) {
    const command = withCommon(keys.command(verb).argument('<id>').description(text));
    if (verb === 'revoke') withYes(command);
    command.action(
      action(config, async (call, id: string, o: Common & { yes?: boolean }) => {
        if (verb === 'revoke') {
          await confirmFound(
            o,
            () => call<ApiKeyJson>('GET', keyPath(id)),
            (key) =>
              `This revokes key ${id} (${key.name}) for good: every call with it is refused from now on (deactivate is the reversible way).`,
          );
        }
        const data = await call<ApiKeyJson>('POST', keyPath(id, `/${verb}`));
        show(o.json, data, () => printFields({ id: data.id, name: data.name, status: data.status }));
      }),
    );
  }

  type CallbackSecret = { key_id: string; secret: string; previous_secret_expires_at: string | null };
  withCommon(
    keys
      .command('callback-secret')
      .argument('<id>')
      .description(
        "the secret that signs the key's callbacks (X-Webhook-Callback), for its partner; owner only",
      ),
  ).action(
    action(config, async (call, id: string, o: Common) => {
      const data = await call<CallbackSecret>('GET', keyPath(id, '/callback-signing-secret'));
      show(o.json, data, () => {
        printFields({ key_id: data.key_id, secret: data.secret });
        process.stdout.write(
          "\nGive it to the key's partner: they verify its callbacks with it as with any Standard Webhooks\n" +
            'secret. It stays the same until you rotate it (keys rotate-callback-secret); the key reads it\n' +
            'from GET /api/v1/account.\n',
        );
        if (data.previous_secret_expires_at) {
          process.stdout.write(
            `The secret before it signs alongside until ${data.previous_secret_expires_at}.\n`,
          );
        }
      });
    }),
  );

  withCommon(
    keys
      .command('rotate-callback-secret')
      .argument('<id>')
      .description(
        "a new secret for the key's callbacks; the old one signs alongside for a grace period; owner only",
      ),
  )
    .addOption(
      graceOption('how long the old secret keeps signing alongside (default 86400; 0: it stops at once)'),
    )
    .action(
      action(config, async (call, id: string, o: Common & { graceSeconds?: number }) => {
        const data = await call<CallbackSecret>('POST', keyPath(id, '/rotate-callback-secret'), graceBody(o));
        show(o.json, data, () => {
          printFields({
            key_id: data.key_id,
            secret: data.secret,
            previous_secret_expires_at:
              data.previous_secret_expires_at ?? 'none: the old secret no longer signs',
          });
          process.stdout.write(
            data.previous_secret_expires_at
              ? "\nGive the new secret to the key's partner: until the time above, each callback carries a\n" +
                  'signature by the old secret and one by the new, so their receiver accepts it with either.\n'
              : "\nGive the new secret to the key's partner: callbacks are signed with it alone from now on.\n",
          );
        });
      }),
    );

  withCommon(
    keys
      .command('roll')
      .argument('<id>')
      .description('issue a new secret; the old one works for a grace period'),
  )
    .addOption(
      graceOption(
        "how long the old secret keeps working (default: the server's GATEHOUSE_KEY_ROLL_GRACE_SECONDS, 86400 unless set)",
      ),
    )
    .action(
      action(config, async (call, id: string, o: Common & { graceSeconds?: number }) => {
        const data = await call<ApiKeyJson & { key: string; previous_secret_expires_at: string }>(
          'POST',
          keyPath(id, '/roll'),
          graceBody(o),
        );
        show(o.json, data, () => {
          printFields({
            id: data.id,
            status: data.status,
            key: data.key,
            previous_secret_expires_at: data.previous_secret_expires_at,
          });
          process.stdout.write('\nCopy the new key now: it is shown only once.\n');
          // A deactivated key can be rolled, but neither secret works until it is activated: said
          // here, or the partner is handed a key that answers 401 api_key_inactive.
          if (data.status === 'inactive') {
            process.stdout.write(
              `The key is deactivated: neither the new secret nor the old one works until it is activated (gatehouse keys activate ${data.id}).\n`,
            );
          }
        });
      }),
    );
}
