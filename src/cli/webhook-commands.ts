import { type Command, Option } from 'commander';
import type { Config } from '../config.ts';
import type { DeliveryJson } from '../webhooks/delivery-service.ts';
import type { SubscriptionJson } from '../webhooks/subscription-service.ts';
import { confirmFound, withYes } from './confirm.ts';
import { action, collect, endpointPath, show, usage, withCommon } from './data-commands.ts';
import { environmentOption } from './environment-option.ts';
import { setsFields } from './option-fields.ts';
import { printFields, printJson, printTable } from './output.ts';
import { pathSegment } from './path-segment.ts';

type Common = { json?: boolean };

const subscriptionColumns = ['id', 'endpoint', 'environment', 'url', 'events', 'enabled', 'disabled_reason'];
const deliveryColumns = [
  'id',
  'event_type',
  'target',
  'url',
  'status',
  'attempt_count',
  'last_status_code',
  'created_at',
];

/** Up to this many characters of a receiver's answer on an attempt's line; --json has all it kept. */
const BODY_SHOWN = 120;
/** C0 and C1 controls (newlines, terminal escapes), line separators and bidi overrides. */
const UNPRINTABLE = /[\p{Cc}\p{Zl}\p{Zp}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A receiver's answer as one line of a table: what it wrote is its text, not the terminal's, so
 * controls show as escapes (`\n`, `\u001b`); cut at BODY_SHOWN characters, with `…`.
 */
function receiverText(body: string | null): { text: string | null; cut: boolean } {
  if (body === null) return { text: null, cut: false };
  const escaped = body.replace(
    UNPRINTABLE,
    (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  const chars = [...escaped];
  if (chars.length <= BODY_SHOWN) return { text: escaped, cut: false };
  return { text: `${chars.slice(0, BODY_SHOWN).join('')}…`, cut: true };
}

/** A value as one shell word: as it is when safe, else single-quoted. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_.:@%+=/-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

export function registerWebhookCommands(program: Command, config: Config): void {
  const webhooks = program
    .command('webhooks')
    .description('webhook subscriptions per endpoint and environment');

  setsFields(
    withCommon(
      webhooks
        .command('create')
        .argument('<endpoint>')
        .description('subscribe a URL; the whsec_ secret is shown once'),
    ),
    { url: '--target', environment: '--env', events: '--event' },
  )
    .requiredOption('--target <url>', 'receiver URL')
    .addOption(environmentOption('test or live').makeOptionMandatory())
    .option(
      '--event <type>',
      'record.created, record.updated, record.deleted, request.failed (repeatable)',
      collect,
    )
    .action(
      action(
        config,
        async (call, slug: string, o: Common & { target: string; env: string; event?: string[] }) => {
          const body = { url: o.target, environment: o.env, ...(o.event ? { events: o.event } : {}) };
          const data = await call<SubscriptionJson & { secret: string }>(
            'POST',
            endpointPath(slug, '/webhooks'),
            body,
          );
          show(o.json, data, () => {
            printFields({
              id: data.id,
              url: data.url,
              environment: data.environment,
              events: data.events,
              secret: data.secret,
            });
            process.stdout.write('\nCopy the signing secret now: it is shown only once.\n');
          });
        },
      ),
    );

  setsFields(
    withCommon(
      webhooks
        .command('list')
        .argument('[endpoint]')
        .description("an endpoint's subscriptions; without one, every endpoint's"),
    ),
    { environment: '--env', enabled: ['--enabled', '--disabled'] },
  )
    .addOption(environmentOption('only test or live'))
    .option('--enabled', 'only enabled subscriptions')
    .addOption(new Option('--disabled', 'only disabled subscriptions').conflicts('enabled'))
    .action(
      action(
        config,
        async (
          call,
          slug: string | undefined,
          o: Common & { env?: 'test' | 'live'; enabled?: boolean; disabled?: boolean },
        ) => {
          const enabled = o.enabled ? true : o.disabled ? false : undefined;
          const query = new URLSearchParams();
          if (o.env) query.set('environment', o.env);
          if (enabled !== undefined) query.set('enabled', String(enabled));
          const all = await call<SubscriptionJson[]>(
            'GET',
            slug === undefined
              ? `/admin/v1/webhooks${query.size > 0 ? `?${query}` : ''}`
              : endpointPath(slug, '/webhooks'),
          );
          // One endpoint's list takes no filter: its environment and state are picked here.
          const data = all.filter(
            (s) =>
              (o.env === undefined || s.environment === o.env) &&
              (enabled === undefined || s.enabled === enabled),
          );
          show(o.json, data, () =>
            printTable(data as unknown as Array<Record<string, unknown>>, subscriptionColumns),
          );
        },
      ),
    );

  withCommon(webhooks.command('show').alias('get').argument('<id>').description('one subscription')).action(
    action(config, async (call, id: string, o: Common) => {
      const data = await call<SubscriptionJson>('GET', `/admin/v1/webhooks/${pathSegment(id, 'webhook')}`);
      show(o.json, data, () => printFields({ ...data }));
    }),
  );

  setsFields(
    withCommon(
      webhooks.command('update').argument('<id>').description('change URL or events, enable or disable'),
    ),
    { url: '--target', events: '--event', enabled: ['--enable', '--disable'] },
  )
    .option('--target <url>', 'receiver URL')
    .option('--event <type>', 'replace the event types (repeatable)', collect)
    .option('--enable', 'enable')
    .addOption(new Option('--disable', 'disable').conflicts('enable'))
    .action(
      action(
        config,
        async (
          call,
          id: string,
          o: Common & { target?: string; event?: string[]; enable?: boolean; disable?: boolean },
        ) => {
          const body: Record<string, unknown> = {};
          if (o.target) body.url = o.target;
          if (o.event) body.events = o.event;
          if (o.enable) body.enabled = true;
          if (o.disable) body.enabled = false;
          if (Object.keys(body).length === 0)
            throw usage('Nothing to change: give --target, --event, --enable or --disable');
          const data = await call<SubscriptionJson>(
            'PATCH',
            `/admin/v1/webhooks/${pathSegment(id, 'webhook')}`,
            body,
          );
          show(o.json, data, () => printFields({ ...data }));
        },
      ),
    );

  withCommon(
    webhooks
      .command('rotate-secret')
      .argument('<id>')
      .description('new secret, shown once; the old one signs alongside for 24 h'),
  ).action(
    action(config, async (call, id: string, o: Common) => {
      const data = await call<SubscriptionJson & { secret: string }>(
        'POST',
        `/admin/v1/webhooks/${pathSegment(id, 'webhook')}/rotate-secret`,
      );
      show(o.json, data, () => {
        printFields({
          id: data.id,
          secret: data.secret,
          previous_secret_expires_at: data.previous_secret_expires_at,
        });
        process.stdout.write('\nCopy the new signing secret now: it is shown only once.\n');
      });
    }),
  );

  withCommon(
    webhooks
      .command('signing-secret')
      .description("the root of the keys' callback signing secrets (not for partners), owner only"),
  ).action(
    action(config, async (call, o: Common) => {
      const data = await call<{ secret: string; used_for: string }>(
        'GET',
        '/admin/v1/webhook-signing-secret',
      );
      show(o.json, data, () => {
        printFields({ secret: data.secret, used_for: data.used_for });
        process.stdout.write(
          "\nDo not give it to partners: each API key's callbacks (X-Webhook-Callback) are signed with a\n" +
            "secret of its own, derived from this one. Give a partner its key's secret:\n" +
            '`gatehouse keys callback-secret <key id>` (the key reads it from GET /api/v1/account).\n',
        );
      });
    }),
  );

  withYes(
    withCommon(webhooks.command('delete').argument('<id>').description('remove a subscription')),
  ).action(
    action(config, async (call, id: string, o: Common & { yes?: boolean }) => {
      await confirmFound(
        o,
        () => call<SubscriptionJson>('GET', `/admin/v1/webhooks/${pathSegment(id, 'webhook')}`),
        (subscription) =>
          `This deletes subscription ${id} and its signing secret, for good: nothing more is sent to ${subscription.url}.`,
      );
      const data = await call<unknown>('DELETE', `/admin/v1/webhooks/${pathSegment(id, 'webhook')}`);
      show(o.json, data, () => process.stdout.write(`Deleted subscription ${id}\n`));
    }),
  );

  const deliveries = program.command('deliveries').description('the webhook delivery log');

  setsFields(
    withCommon(deliveries.command('list').description('newest first; --after <cursor> for the next page')),
    { environment: '--env', record_id: '--record', request_id: '--request' },
  )
    .option('--endpoint <slug>', 'only this endpoint')
    .addOption(environmentOption('only test or live'))
    .option('--record <id>', 'only this record')
    .option('--request <id>', 'only this request')
    .option('--status <status>', 'pending, succeeded, failed or cancelled')
    .option('--event-type <type>', 'only this event type, e.g. record.created')
    .option('--limit <n>', '1-100', '25')
    .option('--after <cursor>', 'the page after this cursor (printed below a full page)')
    .action(
      action(config, async (call, o: Common & Record<string, string | undefined>) => {
        const query = new URLSearchParams();
        const map: Record<string, string> = {
          endpoint: 'endpoint',
          env: 'environment',
          record: 'record_id',
          request: 'request_id',
          status: 'status',
          eventType: 'event_type',
          limit: 'limit',
          after: 'after',
        };
        for (const [option, param] of Object.entries(map)) if (o[option]) query.set(param, String(o[option]));
        // The API filters by slug and finds nothing for one that names no endpoint: said as
        // endpoints show says it (endpoint_not_found), not printed as an empty log.
        if (o.endpoint) await call<unknown>('GET', endpointPath(o.endpoint));
        // The whole envelope, for its meta.next_cursor (call() hands back `data` alone).
        const response = await call<Response>('GET', `/admin/v1/deliveries?${query}`, undefined, true);
        const page = (await response.json()) as {
          data: DeliveryJson[];
          meta?: { next_cursor: string | null };
        };
        if (o.json) return printJson(page);
        printTable(page.data as unknown as Array<Record<string, unknown>>, deliveryColumns);
        const next = page.meta?.next_cursor;
        if (next) {
          // The same filters and page size, one page on.
          const flags = Object.keys(map)
            .filter(
              (option) => option !== 'after' && o[option] && !(option === 'limit' && o[option] === '25'),
            )
            .map(
              (option) =>
                `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${shellWord(String(o[option]))}`,
            );
          // At the same Gatehouse: a --url given is repeated. A --token is not: a secret the CLI was
          // given is never printed back (it would sit in the scrollback and in logs of the output).
          const at = o.url ? [`--url ${shellWord(o.url)}`] : [];
          process.stdout.write(
            `\nMore: gatehouse deliveries list ${[...at, ...flags, `--after ${next}`].join(' ')}\n`,
          );
          if (o.token)
            process.stdout.write(
              '(add your --token: the CLI does not print it back; GATEHOUSE_TOKEN saves giving it each time)\n',
            );
        }
      }),
    );

  withCommon(
    deliveries.command('show').alias('get').argument('<id>').description('one delivery with every attempt'),
  ).action(
    action(config, async (call, id: string, o: Common) => {
      const data = await call<DeliveryJson>('GET', `/admin/v1/deliveries/${pathSegment(id, 'delivery')}`);
      show(o.json, data, () => {
        printFields({ ...data, attempts: data.attempts.length });
        // The receiver's answer is often what says why it refused (a signature it could not verify).
        const bodies = data.attempts.map((a) => receiverText(a.response_body));
        printTable(
          data.attempts.map((a, i) => ({ ...a, response_body: bodies[i]?.text ?? null })),
          ['attempted_at', 'duration_ms', 'status_code', 'error', 'response_body'],
        );
        if (bodies.some((b) => b.cut))
          process.stdout.write(
            `(response bodies are cut at ${BODY_SHOWN} characters: --json shows them whole, as kept: the first 4 KiB)\n`,
          );
      });
    }),
  );

  withCommon(
    deliveries
      .command('redeliver')
      .argument('<id>')
      .description('send the same event to the same target again'),
  ).action(
    action(config, async (call, id: string, o: Common) => {
      const data = await call<DeliveryJson>(
        'POST',
        `/admin/v1/deliveries/${pathSegment(id, 'delivery')}/redeliver`,
      );
      show(o.json, data, () =>
        printFields({ id: data.id, event_id: data.event_id, url: data.url, status: data.status }),
      );
    }),
  );
}
