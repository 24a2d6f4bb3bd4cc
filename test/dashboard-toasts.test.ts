import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * A success toast ("Draft saved") shows for about 4 s over the page: it can be closed sooner, by
 * its Close button or by Escape (once nothing else takes Escape: a dialog over the page closes
 * first), and the room between two toasts does not take the clicks meant for the page under it.
 */
describe('dashboard success toasts', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;
  let saves = 0;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    owner = await ownerBrowser(server.url);
    page = owner.page;
    await page.goto(`${server.url}/#/endpoints/orders`);
    await page.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  const toasts = () => page.locator('.mantine-Notification-root').filter({ hasText: 'Draft saved' });

  /** Saves a change of name: a "Draft saved" toast more. Returns the newest one. */
  async function save(): Promise<Locator> {
    saves += 1;
    const before = await toasts().count();
    await page.getByRole('textbox', { name: /^Name/ }).fill(`Orders ${saves}`);
    await page.getByRole('button', { name: 'Save draft' }).click();
    await until(
      () => toasts().count(),
      (count) => count > before,
    );
    // Marked, to be found again whatever toasts come and go.
    await toasts()
      .last()
      .evaluate((toast, mark) => toast.setAttribute('data-save', String(mark)), saves);
    return page.locator(`[data-save="${saves}"]`);
  }

  /** Waits for `toast` to go, failing if it takes 1.5 s (it would close by itself after 4 s). */
  async function gone(toast: Locator, how: string): Promise<void> {
    await toast.waitFor({ state: 'detached', timeout: 1_500 }).catch(() => {
      assert.fail(`${how} did not close the toast`);
    });
  }

  test("its Close button or Escape closes it at once, Escape once a select's options or a dialog over the page have closed", async () => {
    const closed = await save();
    await closed.getByRole('button', { name: 'Close' }).click();
    await gone(closed, 'Close');

    const toast = await save();
    await page.keyboard.press('Escape');
    await gone(toast, 'Escape');

    const kept = await save();
    // A select's options, then a dialog, take an Escape each first.
    await page.getByLabel('Type', { exact: true }).first().click();
    const options = page.getByRole('listbox');
    await options.waitFor();
    await page.keyboard.press('Escape');
    await options.waitFor({ state: 'hidden' });
    assert.equal(await kept.isVisible(), true, "the Escape that closed the select's options left the toast");
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: /^Deploy version/ });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await kept.isVisible(), true, 'the Escape that closed the dialog left the toast');
    await page.keyboard.press('Escape');
    await gone(kept, 'A second Escape');
    const endpoint = await server.admin('GET', '/admin/v1/endpoints/orders');
    assert.equal(endpoint.body.data.live_version, null, 'nothing was deployed');
  });

  test('the room between two toasts lets clicks through to the page', async () => {
    const first = await save();
    const second = await save();
    const a = await first.boundingBox();
    const b = await second.boundingBox();
    assert.ok(a && b, 'both toasts are on screen');
    const [upper, lower] = a.y < b.y ? [a, b] : [b, a];
    const gap = { x: upper.x + upper.width / 2, y: (upper.y + upper.height + lower.y) / 2 };
    assert.ok(lower.y - (upper.y + upper.height) >= 4, `a gap between them: ${JSON.stringify([a, b])}`);
    const hit = await page.evaluate(
      `document.elementFromPoint(${gap.x}, ${gap.y})?.closest('.mantine-Notifications-root') ? 'the toasts' : 'the page'`,
    );
    assert.notEqual(hit, 'the toasts', 'a click between the toasts reaches the page');
  });
});
