import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileExpression } from '../src/apps/expressions.ts';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Expressions of at most 10 000 characters nesting thousands of levels, each in its own way. */
const deep: Record<string, string> = {
  sum: Array(5000).fill('1').join('+'),
  parentheses: `${'('.repeat(4999)}1${')'.repeat(4999)}`,
  arrays: `${'['.repeat(4999)}1${']'.repeat(4999)}`,
  objects: `${'{"a":'.repeat(1666)}1${'}'.repeat(1666)}`,
  calls: `${'$string('.repeat(1111)}1${')'.repeat(1111)}`,
  conditions: `${'true?'.repeat(1428)}1${':2'.repeat(1428)}`,
  predicates: `${'body['.repeat(1666)}1${']'.repeat(1666)}`,
};
/** The ones that run all the way down whatever the input (a predicate runs only on what it filters). */
const { predicates: _, ...deepToTheEnd } = deep;

const TOO_DEEP = /^Nested more than 300 levels deep/;
/** What an engine's own failure would have said. */
const ENGINE = /RangeError|call stack/i;

const transform = (name: string, expression: string) => ({
  method: 'POST',
  path: `/${name}`,
  auth: 'public',
  steps: [{ name, type: 'transform', expression }],
});

for (const kind of databaseKinds) {
  describe(`App expressions nested too deep (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    const call = (path: string, json: unknown = {}) =>
      server.request('POST', `/api/v1/apps${path}?environment=test`, { json });
    /** POST /admin/v1/apps of an app named `slug` with these routes. */
    const save = (slug: string, routes: unknown[]) =>
      server.admin('POST', '/admin/v1/apps', { slug, name: slug, routes });

    test('saving one is refused with a 400 naming the step, and nothing is stored', async () => {
      for (const [name, expression] of Object.entries(deep)) {
        assert.ok(expression.length <= 10_000, name);
        const res = await save('deep', [transform(name, expression)]);
        assert.equal(res.status, 400, `${name}: ${res.text}`);
        assert.equal(res.body.code, 'invalid_app');
        assert.doesNotMatch(res.text, ENGINE, name);
        assert.deepEqual(
          res.body.details.map((d: { field: string }) => d.field),
          [`routes[0] (POST /${name}).steps[0] ("${name}").expression`],
          name,
        );
        assert.match(res.body.details[0].error, TOO_DEEP, name);
        assert.match(res.body.error, /\("\w+"\)\.expression: Nested more than 300 levels deep/, name);
      }
      assert.deepEqual((await server.admin('GET', '/admin/v1/apps')).body.data, []);
    });

    test('one nested as deep as JSONata evaluates is saved and answers', async () => {
      const deepest = [
        transform('sum', Array(300).fill('1').join('+')),
        transform('parentheses', `${'('.repeat(299)}1${')'.repeat(299)}`),
      ];
      const res = await save('deepest', [...deepest, transform('past', Array(301).fill('1').join('+'))]);
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(
        res.body.details.map((d: { field: string }) => d.field),
        ['routes[2] (POST /past).steps[0] ("past").expression'],
      );
      const saved = await save('deepest', deepest);
      assert.equal(saved.status, 201, saved.text);
      assert.equal((await call('/deepest/sum')).body.data, 300);
      assert.equal((await call('/deepest/parentheses')).body.data, 1);
    });

    test('a ~> chain is saved exactly as deep as JSONata runs it', async () => {
      // Each link is one level: a call, a function written in place (also as a call's
      // argument), a function named. 299 links and the string at the end are 300 levels.
      const links = [
        ' ~> $substring(0)',
        ' ~> $string()',
        ' ~> function($v){$v}',
        ' ~> $map(function($v){$v})',
      ];
      const guards = [' ~> $string', ' ~> $substring(?, 0)'];
      const chain = (link: string, n: number) => `'x'${link.repeat(n)}`;
      for (const link of [...links, ...guards]) {
        const deepest = link === guards[1] ? 298 : 299;
        // One link more is past JSONata's stack budget when it runs.
        await assert.rejects(
          compileExpression(chain(link, deepest + 1), true).evaluate({}),
          /recursed deeper than 300 levels/,
          link,
        );
        const refused = await save('chain', [transform('past', chain(link, deepest + 1))]);
        assert.equal(refused.status, 400, `${link}: ${refused.text}`);
        assert.match(refused.body.details[0].error, TOO_DEEP, link);
        const saved = await save('chain', [transform('run', chain(link, deepest))]);
        assert.equal(saved.status, 201, `${link}: ${saved.text}`);
        const res = await call('/chain/run');
        assert.equal(res.status, 200, `${link}: ${res.text}`);
        assert.equal(res.body.data, 'x', link);
        assert.equal((await server.admin('DELETE', '/admin/v1/apps/chain')).status, 200);
      }
    });

    test('$eval of a text nested too deep fails its step with a budget error, not the engine’s', async () => {
      const saved = await save('evals', [transform('run', '$eval(body.text)')]);
      assert.equal(saved.status, 201, saved.text);
      for (const [name, text] of Object.entries(deepToTheEnd)) {
        const res = await call('/evals/run', { text });
        assert.equal(res.status, 500, `${name}: ${res.text}`);
        assert.equal(res.body.code, 'app_budget_exceeded', name);
        assert.doesNotMatch(res.text, ENGINE, name);
        assert.equal(res.body.details[0].field, 'steps.run.expression', name);
      }
      assert.equal((await call('/evals/run', { text: '1+1' })).body.data, 2);
    });

    test('an app stored before the check answers each deep step with a budget error; its other routes answer', async () => {
      const saved = await save('older', [transform('fine', "'fine'")]);
      assert.equal(saved.status, 201, saved.text);
      // As a definition saved before expressions' depth was checked holds them.
      const routes = [transform('fine', "'fine'"), ...Object.entries(deep).map(([n, e]) => transform(n, e))];
      await server.services.database.db
        .updateTable('apps')
        .set({ definition: JSON.stringify({ routes }), draft_revision: 2 })
        .where('slug', '=', 'older')
        .execute();
      server.services.bus.publish('apps', 'older');
      const fine = await call('/older/fine');
      assert.equal(fine.status, 200, fine.text);
      assert.equal(fine.body.data, 'fine');
      for (const name of Object.keys(deepToTheEnd)) {
        const res = await call(`/older/${name}`);
        assert.equal(res.status, 500, `${name}: ${res.text}`);
        assert.equal(res.body.code, 'app_budget_exceeded', `${name}: ${res.text}`);
        assert.doesNotMatch(res.text, ENGINE, name);
        assert.equal(res.body.details[0].field, `steps.${name}.expression`, name);
        assert.match(
          res.body.details[0].error,
          /recursed deeper than 300 levels|^Nested more than 300/,
          name,
        );
      }
      // Saving it again asks for the rewrite.
      const resaved = await server.admin('PATCH', '/admin/v1/apps/older', { routes });
      assert.equal(resaved.status, 400, resaved.text);
      assert.doesNotMatch(resaved.text, ENGINE);
      assert.equal(resaved.body.details.length, Object.keys(deep).length);
      assert.equal((await server.admin('GET', '/admin/v1/apps/older')).body.data.draft_revision, 2);
    });
  });
}
