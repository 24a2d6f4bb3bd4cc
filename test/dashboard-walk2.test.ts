import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** A second walk through the dashboard as a new owner: long names, and what the pages say. */
describe("dashboard walk 2: a new owner's pages", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    owner = await openBrowser(server.url);
    page = owner.page;
    await signInAsOwner(page, server.url);
    // The session check before signing in answers 401 (expected): not counted at the end.
    owner.errors.length = 0;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  /** How far the widest of `selector` runs past its own box (0: it fits). */
  async function overflow(selector: string): Promise<number> {
    // Evaluated in the page (no DOM types here).
    const element = `document.querySelector(${JSON.stringify(selector)})`;
    return Number(await page.evaluate(`${element}.scrollWidth - ${element}.clientWidth`));
  }

  test('a name without spaces wraps in the page heading and in dialog titles', async () => {
    // As long as the API takes (200 characters), as a partner's identifier pasted as a name is.
    const name = 'N'.repeat(200);
    await server.createEndpoint({ slug: 'long', name, schema: { type: 'object' } });
    await server.createKey({ name, environment: 'test' });

    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: `Actions for ${name}` }).click();
    await page.getByRole('menuitem', { name: 'Roll secret' }).click();
    const question = page.getByRole('dialog', { name: `Roll ${name}?` });
    await question.waitFor();
    assert.equal(
      await overflow('.mantine-Modal-content'),
      0,
      "the question's title stays inside the dialog (its end was cut off)",
    );
    await question.getByRole('button', { name: 'Cancel' }).click();
    await question.waitFor({ state: 'hidden' });

    await page.goto(`${server.url}/#/endpoints/long`);
    await page.getByRole('heading', { level: 1, name }).waitFor();
    assert.equal(await overflow('html'), 0, "the endpoint's name does not widen the page");
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });
});
