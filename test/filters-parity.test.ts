import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createServices, type Services } from '../src/app.ts';
import { createRecordFinder } from '../src/apps/record-find.ts';
import { loadConfig } from '../src/config.ts';
import type { EndpointRuntime } from '../src/endpoints/endpoint-service.ts';
import { numberTexts } from '../src/records/record-reader.ts';
import { createCommand } from './helpers/commands.ts';
import { databaseKinds, postgresAdminUrl } from './helpers/database.ts';
import { regexRuns, unanchoredOver } from './helpers/regex-runs.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * The data API's list filters and the App API `find` step answer the same on SQLite and
 * PostgreSQL, and rightly: numbers past 2^53 exactly, JSON null as null, numbers by value as
 * stored, comparisons within one JSON type, one order across types.
 */

/** The `v` of each record of the find tests, in the order they are created (`missing` has none). */
const MIXED: Array<[label: string, body: string]> = [
  ['2', '{"v":2}'],
  ['10', '{"v":10}'],
  ['-1', '{"v":-1}'],
  ['"a"', '{"v":"a"}'],
  ['"B"', '{"v":"B"}'],
  ['"b"', '{"v":"b"}'],
  ['"10"', '{"v":"10"}'],
  ['true', '{"v":true}'],
  ['false', '{"v":false}'],
  ['null', '{"v":null}'],
  ['missing', '{"w":1}'],
  ['[1]', '{"v":[1]}'],
  ['{"a":1}', '{"v":{"a":1}}'],
  ['1', '{"v":1}'],
];

/** The documented order (docs/apps.md): null, numbers, strings by code point, false, true, arrays and objects, missing. */
const ASCENDING = [
  'null',
  '-1',
  '1',
  '2',
  '10',
  '"10"',
  '"B"',
  '"a"',
  '"b"',
  'false',
  'true',
  '[1]',
  '{"a":1}',
  'missing',
];

for (const kind of databaseKinds) {
  describe(`filters answer alike on ${kind}`, () => {
    let server: TestServer;
    let key: string;

    /** Creates records from raw JSON bodies (kept as sent where a number is long); their ids in order. */
    async function create(slug: string, bodies: string[]): Promise<string[]> {
      const ids: string[] = [];
      for (const raw of bodies) {
        const res = await server.request('POST', `/api/v1/data/${slug}`, {
          key,
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 202, res.text);
        ids.push(res.body.id);
      }
      return ids;
    }

    /** The positions (in `ids`) of the records a list query returns, oldest first. */
    async function matching(slug: string, ids: string[], query: string): Promise<number[]> {
      const res = await server.request('GET', `/api/v1/data/${slug}?order=asc&limit=100&${query}`, { key });
      assert.equal(res.status, 200, res.text);
      return res.body.data.map((r: { id: string }) => ids.indexOf(r.id));
    }

    /** The data API and the console list alike answer `query` with a 400 naming `field`, saying `error`. */
    async function refusedAlike(slug: string, query: string, field: string, error: string): Promise<void> {
      for (const res of [
        await server.request('GET', `/api/v1/data/${slug}?${query}`, { key }),
        await server.admin('GET', `/admin/v1/console/${slug}/records?${query}`),
      ]) {
        assert.equal(res.status, 400, `${query}: ${res.text}`);
        assert.equal(res.body.code, 'invalid_request');
        assert.deepEqual(res.body.details, [{ field, error }]);
      }
    }

    before(async () => {
      server = await startTestServer(kind);
      key = (await server.createKey({ name: 'parity', environment: 'test', scopes: ['*'] })).key;
    });
    after(async () => {
      await server.close();
    });

    test('every field the OpenAPI document offers a filter for can be filtered, whatever its name', async () => {
      const names = ['2fa', 'order id', 'café', 'a.b', 'x[0]', 'say "hi"', 'back\\slash'];
      await server.createEndpoint({
        slug: 'odd-names',
        name: 'Odd names',
        schema: { type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) },
      });
      const ids = await create('odd-names', [
        JSON.stringify(Object.fromEntries(names.map((n) => [n, 'yes']))),
        JSON.stringify(Object.fromEntries(names.map((n) => [n, 'no']))),
      ]);
      const doc = await server.request('GET', '/api/v1/openapi.json', { key });
      assert.equal(doc.status, 200, doc.text);
      const offered: string[] = doc.body.paths['/api/v1/data/odd-names'].get.parameters
        .map((p: { name?: string }) => p.name ?? '')
        .filter((n: string) => n.startsWith('filter['));
      // A quote or a backslash cannot be in a filter's field name: those two are left out.
      assert.deepEqual(
        offered,
        names.slice(0, 5).map((n) => `filter[${n}]`),
      );
      for (const name of offered) {
        assert.deepEqual(await matching('odd-names', ids, `${encodeURIComponent(name)}=yes`), [0], name);
      }
      const refused = await server.request(
        'GET',
        `/api/v1/data/odd-names?${encodeURIComponent('filter[say "hi"]')}=yes`,
        {
          key,
        },
      );
      assert.equal(refused.status, 400);
      assert.equal(
        refused.body.details[0].error,
        'Filters apply to top-level field names of 1 to 64 characters, without ", \\ or control characters',
      );
    });

    test('a filter on an array or object field is a 400 naming it, in the data API and the console; the document offers none', async () => {
      await server.createEndpoint({
        slug: 'shaped',
        name: 'Shaped',
        schema: {
          type: 'object',
          properties: {
            sku: { type: 'string' },
            items: { type: 'array' },
            address: { type: 'object' },
            tags: { type: ['array', 'null'] },
          },
        },
      });
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/shaped/deploy')).status, 201);
      const ids = await create('shaped', ['{"sku":"a","items":["x"],"address":{"x":1},"tags":null}']);
      const refusals: Array<[name: string, error: string]> = [
        [
          'filter[items]',
          'Cannot filter on an array field: filters match strings, numbers, booleans and null',
        ],
        [
          'filter[address]',
          'Cannot filter on an object field: filters match strings, numbers, booleans and null',
        ],
      ];
      for (const [name, error] of refusals)
        await refusedAlike('shaped', `${encodeURIComponent(name)}=x`, name, error);
      // A field that may also be null can still be filtered for null; the record is there, unchanged.
      assert.deepEqual(await matching('shaped', ids, 'filter[tags]=null'), [0]);
      const record = await server.request('GET', `/api/v1/data/shaped/${ids[0]}`, { key });
      assert.deepEqual(record.body.data.data, { sku: 'a', items: ['x'], address: { x: 1 }, tags: null });
      const doc = await server.request('GET', '/api/v1/openapi.json', { key });
      const offered = doc.body.paths['/api/v1/data/shaped'].get.parameters
        .map((p: { name?: string }) => p.name ?? '')
        .filter((n: string) => n.startsWith('filter['));
      assert.deepEqual(offered, ['filter[sku]', 'filter[tags]']);
    });

    test('a value a typed field can never hold is a 400 naming the filter and what it takes, in the data API and the console', async () => {
      await server.createEndpoint({
        slug: 'typed',
        name: 'Typed',
        schema: {
          type: 'object',
          properties: {
            qty: { type: 'integer' },
            amount: { type: 'number' },
            paid: { type: 'boolean' },
            due: { type: ['integer', 'null'] },
            flag: { type: ['boolean', 'null'] },
            mixed: { type: ['integer', 'string'] },
            size: { type: ['integer', 'number'] },
            kind: { enum: ['a', 1] },
          },
        },
      });
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/typed/deploy')).status, 201);
      const ids = await create('typed', [
        '{"qty":1,"amount":2.5,"paid":true,"due":null,"flag":null,"mixed":"abc","size":3,"kind":1}',
        '{"qty":15,"amount":1e2,"paid":false,"due":7,"flag":false,"mixed":5,"size":1.5,"kind":"a"}',
      ]);
      const refusals: Array<[query: string, error: string]> = [
        ['filter[qty]=abc', 'Cannot match an integer field: give an integer'],
        ['filter[qty]=1.5', 'Cannot match an integer field: give an integer'],
        ['filter[qty]=', 'Cannot match an integer field: give an integer'],
        ['filter[qty]=null', 'Cannot match an integer field: give an integer'],
        ['filter[amount]=abc', 'Cannot match a number field: give a number'],
        ['filter[amount]=Infinity', 'Cannot match a number field: give a number'],
        ['filter[paid]=maybe', 'Cannot match a boolean field: give true or false'],
        ['filter[paid]=1', 'Cannot match a boolean field: give true or false'],
        ['filter[due]=soon', 'Cannot match an integer or null field: give an integer or null'],
        ['filter[flag]=yes', 'Cannot match a boolean or null field: give true, false or null'],
        ['filter[size]=abc', 'Cannot match a number field: give a number'],
      ];
      for (const [query, error] of refusals)
        await refusedAlike('typed', query, query.slice(0, query.indexOf('=')), error);
      // Whatever the type can hold still finds it, spelled as JSON or as Number() reads it.
      assert.deepEqual(await matching('typed', ids, 'filter[qty]=15'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[qty]=1.5e1'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[qty]=1.0'), [0]);
      assert.deepEqual(await matching('typed', ids, 'filter[qty]=%2B15'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[qty]=2'), []);
      assert.deepEqual(await matching('typed', ids, 'filter[amount]=100'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[amount]=2.50'), [0]);
      assert.deepEqual(await matching('typed', ids, 'filter[paid]=false'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[due]=null'), [0]);
      assert.deepEqual(await matching('typed', ids, 'filter[due]=7'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[flag]=null'), [0]);
      assert.deepEqual(await matching('typed', ids, 'filter[size]=1.5'), [1]);
      // A field that may be a string takes any text; one without a type (enum only) too.
      assert.deepEqual(await matching('typed', ids, 'filter[mixed]=abc'), [0]);
      assert.deepEqual(await matching('typed', ids, 'filter[mixed]=5'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[kind]=a'), [1]);
      assert.deepEqual(await matching('typed', ids, 'filter[kind]=zzz'), []);
      // Nothing was changed by the refused lists.
      const record = await server.request('GET', `/api/v1/data/typed/${ids[1]}`, { key });
      assert.equal(record.status, 200);
      assert.equal(record.body.data.data.qty, 15);
    });

    test('a declared integer or number field finds values past 2^53 exactly, digit for digit', async () => {
      await server.createEndpoint({
        slug: 'big',
        name: 'Big',
        schema: {
          type: 'object',
          properties: { ext_id: { type: 'integer' }, amount: { type: 'number' } },
        },
      });
      const ids = await create('big', [
        '{"ext_id":9007199254740993,"amount":12345678901234567890}',
        '{"ext_id":9007199254740992,"amount":12345678901234567000}',
        '{"ext_id":1,"amount":1.5}',
        '{"ext_id":-3,"amount":100}',
        '{"ext_id":5,"amount":5.0}',
        // Beside a long integer, the other numbers are still stored as JSON writes them (5).
        '{"ext_id":6,"amount":5.0,"ref":12345678901234567890}',
      ]);
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=9007199254740993'), [0]);
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=9007199254740992'), [1]);
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=9007199254740994'), []);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=12345678901234567890'), [0]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=12345678901234567000'), [1]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=1.2345678901234567e19'), [1]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=12345678901234567891'), []);
      // Ordinary numbers as before, by value.
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=1'), [2]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=1.5'), [2]);
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=-3'), [3]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=1e2'), [3]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=100'), [3]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=5'), [4, 5]);
      assert.deepEqual(await matching('big', ids, 'filter[amount]=5.0'), [4, 5]);
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=5&filter[amount]=50e-1'), [4]);
      // Not a number: compared as a string, which these fields never hold.
      assert.deepEqual(await matching('big', ids, 'filter[ext_id]=%2B9007199254740993'), []);
    });

    test('filter=null on a ["string","null"] field finds JSON null, not a missing field or "null"', async () => {
      await server.createEndpoint({
        slug: 'notes',
        name: 'Notes',
        schema: { type: 'object', properties: { note: { type: ['string', 'null'] } } },
      });
      const ids = await create('notes', ['{"note":null}', '{"note":"null"}', '{}', '{"note":"x"}']);
      assert.deepEqual(await matching('notes', ids, 'filter[note]=null'), [0]);
      assert.deepEqual(await matching('notes', ids, 'filter[note]=x'), [3]);
    });

    test('a field of several types matches each type the value spells: 5 finds 5 and "5"', async () => {
      await server.createEndpoint({
        slug: 'codes',
        name: 'Codes',
        schema: {
          type: 'object',
          properties: { code: { type: ['integer', 'string'] }, flag: { type: ['boolean', 'string'] } },
        },
      });
      const ids = await create('codes', [
        '{"code":5}',
        '{"code":"5"}',
        '{"code":"05"}',
        '{"code":"x"}',
        '{"flag":true}',
        '{"flag":"true"}',
      ]);
      assert.deepEqual(await matching('codes', ids, 'filter[code]=5'), [0, 1]);
      assert.deepEqual(await matching('codes', ids, 'filter[code]=5.0'), [0]);
      assert.deepEqual(await matching('codes', ids, 'filter[code]=05'), [0, 2]);
      assert.deepEqual(await matching('codes', ids, 'filter[code]=x'), [3]);
      assert.deepEqual(await matching('codes', ids, 'filter[flag]=true'), [4, 5]);
    });

    test('an undeclared field compares numbers by value and strings by value, whatever their escapes', async () => {
      await server.createEndpoint({ slug: 'loose', name: 'Loose', schema: { type: 'object' } });
      const ids = await create('loose', [
        '{"extra":5}',
        '{"extra":"5"}',
        '{"extra":5.5}',
        '{"extra":"5.0"}',
        '{"extra":50}',
        '{"extra":true}',
        '{"extra":1}',
        '{"extra":"caf\\u00e9","ref":12345678901234567890}',
        '{"extra":null}',
      ]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=5.0'), [0, 3]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=50e-1'), [0]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=5'), [0, 1]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=5e1'), [4]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=true'), [5]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=1'), [6]);
      assert.deepEqual(await matching('loose', ids, `filter[extra]=${encodeURIComponent('café')}`), [7]);
      assert.deepEqual(await matching('loose', ids, 'filter[extra]=null'), [8]);
    });

    /**
     * An app with one GET route per case, each a `find` on `endpoint` ordered by v; `found(case)`
     * gives the labels of the records it returns, in order.
     */
    async function findApp(
      slug: string,
      endpoint: string,
      cases: Record<string, { filter?: unknown; direction?: 'asc' | 'desc' }>,
      labels: ReadonlyMap<string, string | undefined>,
    ): Promise<(name: string) => Promise<string[]>> {
      const res = await server.admin('POST', '/admin/v1/apps', {
        slug,
        name: slug,
        routes: Object.entries(cases).map(([name, c]) => ({
          method: 'GET',
          path: `/${name}`,
          steps: [
            {
              name: 'found',
              type: 'find',
              endpoint,
              ...(c.filter ? { filter: c.filter } : {}),
              order: { field: 'v', direction: c.direction ?? 'asc' },
              limit: 100,
            },
          ],
        })),
      });
      assert.equal(res.status, 201, res.text);
      return async (name) => {
        const out = await server.request('GET', `/api/v1/apps/${slug}/${name}`, { key });
        assert.equal(out.status, 200, out.text);
        return out.body.data.map((r: { id: string }) => labels.get(r.id) ?? r.id);
      };
    }

    test('find: a float past 64 bits sorts by value among the integers it rounds alike to', async () => {
      await server.createEndpoint({ slug: 'huge', name: 'Huge', schema: { type: 'object' } });
      const values = [
        '1e21',
        '999999999999999999999',
        '-1e21',
        '-999999999999999999999',
        '1.5e21',
        '1000000000000000000001',
      ];
      const ids = await create(
        'huge',
        values.map((v) => `{"v":${v}}`),
      );
      const label = new Map(ids.map((id, n) => [id, values[n]]));
      const res = await server.admin('POST', '/admin/v1/apps', {
        slug: 'huge-order',
        name: 'huge-order',
        routes: ['asc', 'desc'].map((direction) => ({
          method: 'GET',
          path: `/${direction}`,
          steps: [
            { name: 'found', type: 'find', endpoint: 'huge', order: { field: 'v', direction }, limit: 100 },
          ],
        })),
      });
      assert.equal(res.status, 201, res.text);
      const found = async (direction: string) => {
        const out = await server.request('GET', `/api/v1/apps/huge-order/${direction}`, { key });
        assert.equal(out.status, 200, out.text);
        return out.body.data.map((r: { id: string }) => label.get(r.id));
      };
      const ascending = [
        '-1e21',
        '-999999999999999999999',
        '999999999999999999999',
        '1e21',
        '1000000000000000000001',
        '1.5e21',
      ];
      assert.deepEqual(await found('asc'), ascending);
      assert.deepEqual(await found('desc'), [...ascending].reverse());
    });

    test('find: integers past 2^53 and past 64 bits compare and sort exactly', async () => {
      await server.createEndpoint({ slug: 'ids', name: 'Ids', schema: { type: 'object' } });
      // Created out of order: SQLite holds the two 20-digit ones as one float.
      const values = [
        '12345678901234567890',
        '1152921504606846980',
        '12345678901234567000',
        '-12345678901234567890',
        '1152921504606846976',
        '9007199254740993',
        '-12345678901234567000',
      ];
      const ids = await create(
        'ids',
        values.map((v) => `{"v":${v}}`),
      );
      const numberOf = new Map(ids.map((id, n) => [id, values[n]]));
      const cases: Record<string, { filter?: unknown; direction?: 'asc' | 'desc' }> = {
        // 2^60: the expression's number is the float 1152921504606846976, written 1152921504606847000.
        gt60: { filter: { v: { gt: '1152921504606846976' } } },
        lte60: { filter: { v: { lte: '1152921504606846976', gt: '0' } } },
        gtbig: { filter: { v: { gt: '12345678901234567000' } } },
        gtebig: { filter: { v: { gte: '12345678901234567000' } } },
        ltneg: { filter: { v: { lt: '-12345678901234567000' } } },
        asc: { direction: 'asc' },
        desc: { direction: 'desc' },
      };
      const found = await findApp('bigids', 'ids', cases, numberOf);
      const ascending = [
        '-12345678901234567890',
        '-12345678901234567000',
        '9007199254740993',
        '1152921504606846976',
        '1152921504606846980',
        '12345678901234567000',
        '12345678901234567890',
      ];
      assert.deepEqual(await found('asc'), ascending);
      assert.deepEqual(await found('desc'), [...ascending].reverse());
      assert.deepEqual(await found('gt60'), ['12345678901234567000', '12345678901234567890']);
      assert.deepEqual(await found('lte60'), [
        '9007199254740993',
        '1152921504606846976',
        '1152921504606846980',
      ]);
      assert.deepEqual(await found('gtbig'), ['12345678901234567890']);
      assert.deepEqual(await found('gtebig'), ['12345678901234567000', '12345678901234567890']);
      assert.deepEqual(await found('ltneg'), ['-12345678901234567890']);
    });

    test('find: comparisons stay within the JSON type of their bound, and order is one documented order', async () => {
      await server.createEndpoint({ slug: 'mixed', name: 'Mixed', schema: { type: 'object' } });
      const ids = await create(
        'mixed',
        MIXED.map(([, body]) => body),
      );
      const labelOf = new Map(ids.map((id, n) => [id, MIXED[n]?.[0]]));
      const cases: Record<string, { filter?: unknown; direction?: 'asc' | 'desc' }> = {
        gt0: { filter: { v: { gt: '0' } } },
        gta: { filter: { v: { gt: "'a'" } } },
        lta: { filter: { v: { lt: "'a'" } } },
        gtefalse: { filter: { v: { gte: 'false' } } },
        lte10: { filter: { v: { lte: '10', gt: '-5' } } },
        eqtrue: { filter: { v: 'true' } },
        eq1: { filter: { v: { eq: '1' } } },
        eq10s: { filter: { v: "'10'" } },
        eqnull: { filter: { v: 'null' } },
        asc: { direction: 'asc' },
        desc: { direction: 'desc' },
      };
      const found = await findApp('parity', 'mixed', cases, labelOf);
      assert.deepEqual(await found('gt0'), ['1', '2', '10']);
      assert.deepEqual(await found('gta'), ['"b"']);
      assert.deepEqual(await found('lta'), ['"10"', '"B"']);
      assert.deepEqual(await found('gtefalse'), ['false', 'true']);
      assert.deepEqual(await found('lte10'), ['-1', '1', '2', '10']);
      assert.deepEqual(await found('eqtrue'), ['true']);
      assert.deepEqual(await found('eq1'), ['1']);
      assert.deepEqual(await found('eq10s'), ['"10"']);
      assert.deepEqual(await found('eqnull'), ['null', 'missing']);
      assert.deepEqual(await found('asc'), ASCENDING);
      // Descending is the reverse, ties (arrays and objects) newest first, as `seq` is.
      assert.deepEqual(await found('desc'), [...ASCENDING].reverse());
    });
  });
}

describe('numberTexts: the texts a record may hold for the number a filter spells', () => {
  test('JavaScript spells it as records are written, and its own spelling is kept', () => {
    assert.deepEqual(numberTexts('5'), ['5']);
    assert.deepEqual(numberTexts('5.0'), ['5', '5.0']);
    assert.deepEqual(numberTexts('50e-1'), ['5', '50e-1']);
    assert.deepEqual(numberTexts('1e2'), ['100', '1e2']);
    assert.deepEqual(numberTexts('-0'), ['0', '-0']);
    assert.deepEqual(numberTexts('1.5'), ['1.5']);
    assert.deepEqual(numberTexts(' 5 '), ['5']);
    assert.deepEqual(numberTexts('+5'), ['5']);
  });

  test('a number JavaScript would round matches only itself, and its JavaScript spelling only if exact', () => {
    assert.deepEqual(numberTexts('9007199254740993'), ['9007199254740993']);
    assert.deepEqual(numberTexts('12345678901234567890'), ['12345678901234567890']);
    assert.deepEqual(numberTexts('1.2345678901234567e19'), ['12345678901234567000', '1.2345678901234567e19']);
    assert.deepEqual(numberTexts('5.00000000000000000001'), ['5.00000000000000000001']);
    // Past a float's range: only as written (JSON.stringify would write null).
    assert.deepEqual(numberTexts('1e400'), ['1e400']);
    assert.deepEqual(numberTexts('1e1001'), ['1e1001']);
    assert.equal(numberTexts('+9007199254740993'), undefined);
    assert.equal(numberTexts('0x1234567890ABCDEF'), undefined);
  });

  test('a long number costs time linear in its length', () => {
    // Its trailing zeros were counted with /0*$/, tried from every position: a 16 KB filter (as
    // long as a request line may be) of 0.1, zeros and a 1 held the event loop 0.3 s.
    const zeros = '0'.repeat(16_000);
    const long = `0.1${zeros}1`;
    const runs = regexRuns(() => {
      assert.deepEqual(numberTexts(long), [long]);
      assert.deepEqual(numberTexts(`1${zeros}e-16000`), ['1', `1${zeros}e-16000`]);
      assert.deepEqual(numberTexts(`0.5${zeros}`), ['0.5', `0.5${zeros}`]);
      assert.deepEqual(numberTexts(`5${zeros}1e-16001`), [`5${zeros}1e-16001`]);
    });
    assert.deepEqual(unanchoredOver(runs, 16_000), []);
  });

  test('not numbers', () => {
    for (const text of ['', 'five', 'Infinity', 'NaN', '0x', '1e'])
      assert.equal(numberTexts(text), undefined, text);
  });
});

/**
 * PostgreSQL compares and sorts text by the database's collation; strings must go by code
 * point as on SQLite whatever it is. The test databases use C.UTF-8, where the two agree, so
 * this one makes a database whose collation (ICU en-US) puts "a" before "B".
 */
describe('find on PostgreSQL with a linguistic collation orders strings by code point', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  const name = `gatehouse_test_icu_${randomBytes(6).toString('hex')}`;
  let services: (Services & { close(): Promise<void> }) | undefined;
  let endpoint: EndpointRuntime;
  let unsupported = '';

  before(async () => {
    const admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    try {
      await admin.query(
        `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
    } catch (error) {
      unsupported = (error as Error).message; // no ICU, or PostgreSQL before 15
      return;
    } finally {
      await admin.end();
    }
    const url = new URL(postgresAdminUrl);
    url.pathname = `/${name}`;
    services = await createServices(loadConfig({ DATABASE_URL: url.toString(), LOG_LEVEL: 'silent' }));
    await services.endpoints.create({ slug: 'words', name: 'Words', schema: { type: 'object' } });
    endpoint = (await services.endpoints.runtime('words')) as EndpointRuntime;
    for (const v of ['a', 'B', 'b', '10', 'é', 'z']) {
      const outcome = await services.writer.write(createCommand(endpoint, { v }));
      assert.ok(outcome.ok);
    }
  });
  after(async () => {
    await services?.close();
    const admin = new pg.Client({ connectionString: postgresAdminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  test('order and range comparisons of strings', async (t) => {
    if (!services) return t.skip(unsupported);
    const find = createRecordFinder(services.database.db, services.database.dialect);
    const words = async (filters: Parameters<typeof find>[2]['filters']) =>
      (
        JSON.parse(
          await find(endpoint, 'test', { filters, order: { field: 'v', direction: 'asc' }, limit: 100 }),
        ) as Array<{ data: { v: string } }>
      ).map((r) => r.data.v);
    assert.deepEqual(await words([]), ['10', 'B', 'a', 'b', 'z', 'é']);
    assert.deepEqual(await words([{ field: 'v', op: 'gt', value: 'a' }]), ['b', 'z', 'é']);
    assert.deepEqual(await words([{ field: 'v', op: 'lt', value: 'a' }]), ['10', 'B']);
  });
});
