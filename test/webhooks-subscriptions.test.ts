import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

interface Event {
  id: string;
  type: string;
  timestamp: string;
  created_at: string;
  data: { record_id: string; operation: string; status: string; failure?: { delivery_id: string } };
}

const LOOPBACK = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };

for (const kind of databaseKinds) {
  describe(`webhook subscriptions (${kind})`, () => {
    let server: TestServer;
    let key: string;
    let liveKey: string;
    const receivers: Receiver[] = [];

    async function receiver(): Promise<Receiver> {
      const r = await startReceiver();
      receivers.push(r);
      return r;
    }

    async function subscribe(
      slug: string,
      body: Record<string, unknown>,
    ): Promise<{ id: string; secret: string }> {
      const res = await server.admin('POST', `/admin/v1/endpoints/${slug}/webhooks`, body);
      assert.equal(res.status, 201, res.text);
      return { id: res.body.data.id, secret: res.body.data.secret };
    }

    before(async () => {
      server = await startTestServer(kind, LOOPBACK, { worker: true });
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
        retry: { max_retries: 1, interval_seconds: 1 },
      });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      key = (await server.createKey({ name: 't', environment: 'test' })).key;
      liveKey = (await server.createKey({ name: 'l', environment: 'live' })).key;
    });
    after(async () => {
      await server.close();
      for (const r of receivers) await r.close();
    });

    test('created, updated and deleted arrive in commit order, signed with the whsec_ secret shown once', async () => {
      const r = await receiver();
      const sub = await subscribe('orders', { url: r.url, environment: 'test' });
      assert.match(sub.secret, /^whsec_/);
      const listed = await server.admin('GET', '/admin/v1/endpoints/orders/webhooks');
      assert.ok(!listed.text.includes(sub.secret));
      assert.equal(listed.body.data[0].secret, undefined);

      const created = await server.request('POST', '/api/v1/data/orders', { key, json: { v: 1 } });
      const id = created.body.id;
      await server.request('PUT', `/api/v1/data/orders/${id}`, { key, json: { v: 2 } });
      await server.request('DELETE', `/api/v1/data/orders/${id}`, { key });
      const got = await r.waitFor(3);
      const hook = new Webhook(sub.secret);
      const events = got.map((d) => hook.verify(d.body, d.headers as Record<string, string>) as Event);
      assert.deepEqual(
        events.map((e) => e.type),
        ['record.created', 'record.updated', 'record.deleted'],
      );
      assert.ok(events.every((e) => e.data.record_id === id));
      // The Standard Webhooks payload: type, timestamp and data (then our id and created_at).
      for (const event of events) {
        assert.deepEqual(Object.keys(event), ['id', 'type', 'timestamp', 'created_at', 'data']);
        assert.equal(event.timestamp, event.created_at);
        assert.ok(Date.parse(event.timestamp) > 0);
      }
      // A wrong secret does not verify.
      assert.throws(() =>
        new Webhook('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').verify(
          got[0]?.body ?? '',
          got[0]?.headers as Record<string, string>,
        ),
      );
      await server.admin('DELETE', `/admin/v1/webhooks/${sub.id}`);
    });

    test('subscriptions see only their events and their environment', async () => {
      const r = await receiver();
      await subscribe('orders', { url: r.url, environment: 'live', events: ['record.deleted'] });
      const testWrite = await server.request('POST', '/api/v1/data/orders', { key, json: { env: 'test' } });
      await server.request('DELETE', `/api/v1/data/orders/${testWrite.body.id}`, { key });
      const liveWrite = await server.request('POST', '/api/v1/data/orders', {
        key: liveKey,
        json: { env: 'live' },
      });
      await server.request('DELETE', `/api/v1/data/orders/${liveWrite.body.id}`, { key: liveKey });
      const [only] = await r.waitFor(1);
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(r.received.length, 1);
      const event = JSON.parse(only?.body ?? '{}') as Event;
      assert.equal(event.type, 'record.deleted');
      assert.equal(event.data.record_id, liveWrite.body.id);
    });

    test('retries until success; a final failure emits request.failed; 410 disables the subscription', async () => {
      const flaky = await receiver();
      flaky.respond = (_r, i) => ({ status: i === 0 ? 503 : 200 });
      const dead = await receiver();
      dead.respond = () => ({ status: 500 });
      const gone = await receiver();
      gone.respond = () => ({ status: 410 });
      const watcher = await receiver();
      const flakySub = await subscribe('orders', {
        url: flaky.url,
        environment: 'test',
        events: ['record.created'],
      });
      const deadSub = await subscribe('orders', {
        url: dead.url,
        environment: 'test',
        events: ['record.created'],
      });
      const goneSub = await subscribe('orders', {
        url: gone.url,
        environment: 'test',
        events: ['record.created'],
      });
      await subscribe('orders', { url: watcher.url, environment: 'test', events: ['request.failed'] });

      const res = await server.request('POST', '/api/v1/data/orders', { key, json: { retry: true } });
      await flaky.waitFor(2);
      await dead.waitFor(2);
      const failed = await watcher.waitFor(1);
      const failure = JSON.parse(failed[0]?.body ?? '{}') as Event;
      assert.equal(failure.type, 'request.failed');
      assert.equal(failure.data.status, 'failed');
      assert.equal(failure.data.record_id, res.body.id);

      const log = await until(
        () => server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}&event_type=record.created`),
        (l) => l.body.data.every((d: { status: string }) => d.status !== 'pending'),
      );
      const bySub = Object.fromEntries(
        log.body.data.map((d: { subscription_id: string }) => [d.subscription_id, d]),
      );
      assert.equal(bySub[flakySub.id].status, 'succeeded');
      assert.deepEqual(
        bySub[flakySub.id].attempts.map((a: { status_code: number }) => a.status_code),
        [503, 200],
      );
      assert.equal(bySub[deadSub.id].status, 'failed');
      assert.equal(bySub[deadSub.id].attempts.length, 2);
      assert.equal(bySub[goneSub.id].status, 'failed');
      assert.equal(bySub[goneSub.id].attempts.length, 1);
      assert.equal(failure.data.failure?.delivery_id !== undefined, true);

      const goneNow = await server.admin('GET', `/admin/v1/webhooks/${goneSub.id}`);
      assert.equal(goneNow.body.data.enabled, false);
      assert.match(goneNow.body.data.disabled_reason, /410/);
      for (const id of [flakySub.id, deadSub.id, goneSub.id])
        await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
    });

    test('request.failed carries the record as written: an integer past 2^53 keeps every digit', async () => {
      const dead = await receiver();
      dead.respond = () => ({ status: 500 });
      const watcher = await receiver();
      const deadSub = await subscribe('orders', {
        url: dead.url,
        environment: 'test',
        events: ['record.created'],
      });
      const watch = await subscribe('orders', {
        url: watcher.url,
        environment: 'test',
        events: ['request.failed'],
      });
      const body = '{"order_id":"ORD-BIG","amount":9007199254740993,"note":"x,\\"record\\":1"}';
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        raw: body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 202, res.text);
      const [failed] = await watcher.waitFor(1);
      const event = new Webhook(watch.secret).verify(
        failed?.body ?? '',
        failed?.headers as Record<string, string>,
      ) as Event;
      assert.equal(event.type, 'request.failed');
      assert.equal(event.data.record_id, res.body.id);
      // Before, the record was parsed and written out again: 9007199254740992.
      assert.ok(failed?.body.includes(`"data":${body}`), failed?.body);
      for (const id of [deadSub.id, watch.id]) await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
    });

    test('a rotated secret signs alongside the new one; redelivery sends the same event again', async () => {
      const r = await receiver();
      const sub = await subscribe('orders', { url: r.url, environment: 'test', events: ['record.created'] });
      const rotated = await server.admin('POST', `/admin/v1/webhooks/${sub.id}/rotate-secret`);
      assert.equal(rotated.status, 200);
      const fresh = rotated.body.data.secret as string;
      assert.notEqual(fresh, sub.secret);
      const res = await server.request('POST', '/api/v1/data/orders', { key, json: { rotate: true } });
      const [first] = await r.waitFor(1);
      assert.equal(String(first?.headers['webhook-signature']).split(' ').length, 2);
      for (const secret of [sub.secret, fresh])
        new Webhook(secret).verify(first?.body ?? '', first?.headers as Record<string, string>);

      const log = await server.admin('GET', `/admin/v1/deliveries?record_id=${res.body.id}`);
      const again = await server.admin('POST', `/admin/v1/deliveries/${log.body.data[0].id}/redeliver`);
      assert.equal(again.status, 202);
      const [, second] = await r.waitFor(2);
      assert.equal(second?.headers['webhook-id'], first?.headers['webhook-id']);
      assert.equal(second?.body, first?.body);
      await server.admin('DELETE', `/admin/v1/webhooks/${sub.id}`);
    });

    test('after a URL change, pending retries and redeliveries go to the new URL', async () => {
      const old = await receiver();
      old.respond = () => ({ status: 500 });
      const fresh = await receiver();
      const sub = await subscribe('orders', {
        url: old.url,
        environment: 'test',
        events: ['record.created'],
      });
      // request.failed goes to an earlier test's watcher: only record.created is read here.
      const log = (recordId: string) =>
        server.admin('GET', `/admin/v1/deliveries?record_id=${recordId}&event_type=record.created`);
      // One delivery fails for good at the old URL, another is waiting for its retry there.
      const done = await server.request('POST', '/api/v1/data/orders', { key, json: { moved: 1 } });
      const failed = await until(
        () => log(done.body.id),
        (l) => l.body.data[0]?.status === 'failed',
      );
      assert.equal(failed.body.data[0].status, 'failed');
      const waiting = await server.request('POST', '/api/v1/data/orders', { key, json: { moved: 2 } });
      await until(
        () => log(waiting.body.id),
        (l) => l.body.data[0]?.attempts.length === 1,
      );
      assert.equal(old.received.length, 3);

      const patched = await server.admin('PATCH', `/admin/v1/webhooks/${sub.id}`, { url: fresh.url });
      assert.equal(patched.status, 200);
      const [retry] = await fresh.waitFor(1);
      assert.equal((JSON.parse(retry?.body ?? '{}') as Event).data.record_id, waiting.body.id);
      const again = await server.admin('POST', `/admin/v1/deliveries/${failed.body.data[0].id}/redeliver`);
      assert.equal(again.status, 202);
      assert.equal(again.body.data.url, fresh.url);
      const [, redelivered] = await fresh.waitFor(2);
      assert.equal((JSON.parse(redelivered?.body ?? '{}') as Event).data.record_id, done.body.id);
      const moved = await until(
        () => log(waiting.body.id),
        (l) => l.body.data[0]?.status === 'succeeded',
      );
      assert.equal(moved.body.data[0].url, fresh.url);
      assert.equal(old.received.length, 3, 'nothing more went to the old URL');
      // A disabled or deleted subscription takes no redelivery: refused, nothing queued.
      const redeliver = () =>
        server.admin('POST', `/admin/v1/deliveries/${failed.body.data[0].id}/redeliver`);
      const before = (await log(done.body.id)).body.data.length;
      await server.admin('PATCH', `/admin/v1/webhooks/${sub.id}`, { enabled: false });
      const disabled = await redeliver();
      assert.equal(disabled.status, 409, disabled.text);
      assert.match(disabled.body.error, /is disabled: enable it to redeliver/);
      await server.admin('DELETE', `/admin/v1/webhooks/${sub.id}`);
      const deleted = await redeliver();
      assert.equal(deleted.status, 409, deleted.text);
      assert.match(deleted.body.error, /was deleted/);
      assert.equal((await log(done.body.id)).body.data.length, before);
    });

    test('deleting a subscription ends its pending deliveries at once, as disabling does', async () => {
      // Its own endpoint: a failed attempt's retry is an hour away, so only the deletion can end it.
      await server.createEndpoint({
        slug: 'hourly',
        name: 'Hourly',
        schema: { type: 'object' },
        retry: { max_retries: 3, interval_seconds: 3600 },
      });
      const down = await receiver();
      down.respond = () => ({ status: 500 });
      const sub = await subscribe('hourly', { url: down.url, environment: 'test' });
      const made = await server.request('POST', '/api/v1/data/hourly', { key, json: { n: 1 } });
      assert.equal(made.status, 202, made.text);
      const log = () => server.admin('GET', `/admin/v1/deliveries?record_id=${made.body.id}`);
      const waiting = await until(log, (l) => l.body.data[0]?.attempts.length === 1);
      const [delivery] = waiting.body.data;
      assert.equal(delivery.status, 'pending', 'waiting for its retry');
      assert.ok(delivery.next_attempt_at > new Date(Date.now() + 3_000_000).toISOString(), 'an hour away');
      const removed = await server.admin('DELETE', `/admin/v1/webhooks/${sub.id}`);
      assert.equal(removed.status, 200, removed.text);
      const ended = (await server.admin('GET', `/admin/v1/deliveries/${delivery.id}`)).body.data;
      assert.equal(ended.status, 'cancelled', 'the pending delivery ended with the deletion');
      assert.equal(ended.last_error, 'subscription disabled or deleted', 'and says why');
      assert.equal(ended.next_attempt_at, null, 'no attempt is due');
      assert.equal(down.received.length, 1, 'nothing more was sent');
    });

    test('bad subscription input is refused and changes nothing', async () => {
      for (const body of [
        { url: 'ftp://x.example/', environment: 'test' },
        { url: 'https://x.example/', environment: 'staging' },
        { url: 'https://x.example/', environment: 'test', events: ['record.exploded'] },
        { url: 'https://x.example/', environment: 'test', events: [] },
        { environment: 'test' },
      ]) {
        const res = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', body);
        assert.equal(res.status, 400, JSON.stringify(body));
      }
      assert.equal(
        (
          await server.admin('POST', '/admin/v1/endpoints/nope/webhooks', {
            url: 'https://x.example/',
            environment: 'test',
          })
        ).status,
        404,
      );
      assert.equal((await server.admin('GET', '/admin/v1/deliveries?status=weird')).status, 400);
      assert.equal((await server.admin('GET', '/admin/v1/deliveries?after=forged')).status, 400);
      assert.equal((await server.admin('POST', '/admin/v1/deliveries/dlv_nope/redeliver')).status, 404);
    });
  });

  describe(`every endpoint's subscriptions (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
      for (const slug of ['zebras', 'apples'])
        await server.createEndpoint({ slug, name: slug, schema: { type: 'object' } });
    });
    after(() => server.close());

    test('GET /admin/v1/webhooks lists them by endpoint, filters, refuses bad filters and secrets stay out', async () => {
      const made: Array<{ slug: string; id: string; secret: string; environment: string }> = [];
      for (const [slug, environment] of [
        ['zebras', 'test'],
        ['apples', 'live'],
        ['apples', 'test'],
      ] as const) {
        const res = await server.admin('POST', `/admin/v1/endpoints/${slug}/webhooks`, {
          url: `https://${slug}.example/${environment}`,
          environment,
        });
        assert.equal(res.status, 201, res.text);
        made.push({ slug, environment, id: res.body.data.id, secret: res.body.data.secret });
      }
      const off = made[2] as (typeof made)[number];
      assert.equal(
        (await server.admin('PATCH', `/admin/v1/webhooks/${off.id}`, { enabled: false })).status,
        200,
      );

      const all = await server.admin('GET', '/admin/v1/webhooks');
      assert.equal(all.status, 200, all.text);
      // By endpoint slug, then oldest first; each as the per-endpoint list shows it.
      assert.deepEqual(
        all.body.data.map((s: { endpoint: string; environment: string }) => `${s.endpoint}/${s.environment}`),
        ['apples/live', 'apples/test', 'zebras/test'],
      );
      const apples = (await server.admin('GET', '/admin/v1/endpoints/apples/webhooks')).body.data;
      assert.deepEqual(all.body.data.slice(0, 2), apples);
      for (const { secret } of made) assert.ok(!all.text.includes(secret));

      const live = (await server.admin('GET', '/admin/v1/webhooks?environment=live')).body.data;
      assert.deepEqual(
        live.map((s: { id: string }) => s.id),
        [made[1]?.id],
      );
      const disabled = (await server.admin('GET', '/admin/v1/webhooks?enabled=false')).body.data;
      assert.deepEqual(
        disabled.map((s: { id: string }) => s.id),
        [off.id],
      );
      const enabledTest = (await server.admin('GET', '/admin/v1/webhooks?enabled=true&environment=test')).body
        .data;
      assert.deepEqual(
        enabledTest.map((s: { id: string }) => s.id),
        [made[0]?.id],
      );

      for (const [query, field] of [
        ['environment=staging', 'environment'],
        ['enabled=yes', 'enabled'],
        ['endpoint=apples', 'endpoint'],
      ]) {
        const res = await server.admin('GET', `/admin/v1/webhooks?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, field);
      }
    });
  });

  describe(`SSRF guard (${kind})`, () => {
    let server: TestServer;
    let r: Receiver;
    before(async () => {
      // No GATEHOUSE_WEBHOOK_ALLOW_NETS: loopback and private targets are refused.
      server = await startTestServer(kind, {}, { worker: true });
      r = await startReceiver();
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
        retry: { max_retries: 0, interval_seconds: 1 },
      });
    });
    after(async () => {
      await server.close();
      await r.close();
    });

    test('a subscription to a private, loopback or metadata address is refused when it is made or changed', async () => {
      const count = async () =>
        (await server.admin('GET', '/admin/v1/endpoints/orders/webhooks')).body.data.length as number;
      const before = await count();
      for (const url of [
        'http://10.0.0.1/x',
        'http://169.254.169.254/latest',
        'http://[::1]:9/x',
        'http://127.0.0.1/x',
      ]) {
        const res = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
          url,
          environment: 'test',
        });
        assert.equal(res.status, 400, url);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, 'url');
        assert.match(res.body.details[0].error, /^Refused target: .*GATEHOUSE_WEBHOOK_ALLOW_NETS/);
      }
      assert.equal(await count(), before);
      // A name is judged when it is resolved, at delivery; a public address is fine now.
      const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: 'https://hooks.example.com/x',
        environment: 'test',
      });
      assert.equal(made.status, 201, made.text);
      const changed = await server.admin('PATCH', `/admin/v1/webhooks/${made.body.data.id}`, {
        url: 'http://192.168.1.10/x',
      });
      assert.equal(changed.status, 400);
      assert.equal(
        (await server.admin('GET', `/admin/v1/webhooks/${made.body.data.id}`)).body.data.url,
        'https://hooks.example.com/x',
      );
      await server.admin('DELETE', `/admin/v1/webhooks/${made.body.data.id}`);
    });

    test('private, loopback and metadata targets are refused with a clear reason and nothing is sent', async () => {
      const key = (await server.createKey({ name: 's', environment: 'test' })).key;
      const port = new URL(r.url).port;
      // An address given as such is refused when the write is made: 400, nothing written.
      const addresses = [
        r.url,
        `http://[::1]:${port}/hook`,
        'http://169.254.169.254/latest/meta-data',
        'http://10.0.0.1/x',
        `http://127.1:${port}/x`,
      ];
      const records = async () =>
        (await server.services.database.db.selectFrom('records').select('id').execute()).length;
      const before = await records();
      for (const target of addresses) {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key,
          json: { target },
          headers: { 'x-webhook-callback': target },
        });
        assert.equal(res.status, 400, target);
        assert.equal(res.body.details[0].field, 'X-Webhook-Callback');
        assert.match(res.body.details[0].error, /^Refused target: .*GATEHOUSE_WEBHOOK_ALLOW_NETS/);
        assert.equal(await records(), before, target);
      }
      // A name is judged when the delivery resolves it: the attempt fails, and nothing is sent.
      const ids: string[] = [];
      for (const target of [`http://localhost:${port}/hook`]) {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key,
          json: {},
          headers: { 'x-webhook-callback': target },
        });
        assert.equal(res.status, 202);
        ids.push(res.body.id);
      }
      for (const id of ids) {
        const log = await until(
          () => server.admin('GET', `/admin/v1/deliveries?record_id=${id}`),
          (l) => l.body.data[0]?.status === 'failed',
        );
        assert.equal(log.body.data[0].status, 'failed', JSON.stringify(log.body.data[0]));
        assert.match(log.body.data[0].last_error, /refused target/);
        assert.equal(log.body.data[0].attempts[0].status_code, null);
      }
      assert.equal(r.received.length, 0);
    });
  });
}
