import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, startTestServer, type TestServer } from './helpers/server.ts';

/** A first owner's walk through the dashboard: what it shows while editing a deployed endpoint. */
describe("dashboard walk: a new owner's first pages", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    const deployed = await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    assert.equal(
      deployed.status,
      201,
      `deploy answered ${deployed.status}: ${JSON.stringify(deployed.body)}`,
    );
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

  function draftVsDeployed(): Locator {
    return page.locator('.mantine-Card-root', {
      has: page.getByRole('heading', { name: 'Draft vs deployed' }),
    });
  }

  async function openEditor(): Promise<void> {
    await page.goto(`${server.url}/#/endpoints/orders`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await draftVsDeployed()
      .getByText(/^Version 1, deployed/)
      .waitFor();
  }

  test('"Draft vs deployed" shows an unsaved rename and settings, which Deploy would publish', async () => {
    await openEditor();
    const panel = draftVsDeployed();
    assert.equal(
      await panel.getByTestId('diff-none').textContent(),
      'The draft is the same as the deployed version.',
      'untouched, the draft is the deployed version',
    );
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Orders renamed');
    await page.getByRole('textbox', { name: 'Webhook retries' }).fill('5');
    const changes = panel.getByTestId('settings-diff');
    await changes.waitFor();
    assert.deepEqual(
      await changes.locator('p').allInnerTexts(),
      ['Name: Orders → Orders renamed', 'Retries: 3 → 5'],
      'the name and retries on screen differ from the deployed version',
    );
    assert.match(
      (await panel.getByTestId('diff-none').textContent()) ?? '',
      /the settings above are not: deploy to publish them/,
      'the panel does not say the draft is the same as the deployed version',
    );
    // Deploy saves the edits first and publishes them: what the panel announced.
    await page.getByRole('button', { name: 'Deploy' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deploy' }).click();
    await draftVsDeployed()
      .getByText(/^Version 2, deployed/)
      .waitFor();
    const live = await server.admin('GET', '/admin/v1/endpoints/orders/versions');
    const v2 = (
      live.body.data as Array<{ version: number; name: string; retry: { max_retries: number } }>
    ).find((v) => v.version === 2);
    assert.equal(v2?.name, 'Orders renamed', 'version 2 has the name the panel showed');
    assert.equal(v2?.retry.max_retries, 5, 'version 2 has the retries the panel showed');
  });

  test('"Draft vs deployed" drops a saved change put back on screen', async () => {
    const saved = await server.admin('PATCH', '/admin/v1/endpoints/orders', { name: 'Orders draft' });
    assert.equal(saved.status, 200, `PATCH answered ${saved.status}: ${JSON.stringify(saved.body)}`);
    // Drawn anew from the server (the page is on this address already).
    await page.goto(`${server.url}/#/endpoints/orders`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Orders draft' }).waitFor();
    const panel = draftVsDeployed();
    await panel.getByTestId('settings-diff').waitFor();
    // Put back as deployed (unsaved): a deploy now publishes the deployed name again.
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Orders renamed');
    await panel.getByTestId('diff-none').waitFor();
    assert.equal(
      await panel.getByTestId('settings-diff').count(),
      0,
      'no setting differs from the deployed version',
    );
    assert.equal(
      await panel.getByTestId('diff-none').textContent(),
      'The draft is the same as the deployed version.',
      'the draft on screen is the deployed version',
    );
    // Back as saved: nothing left unsaved to ask about on leaving.
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Orders draft');
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test('Collaborators: each Withdraw and Remove button names the person it acts on', async () => {
    for (const email of ['ann@example.com', 'bob@example.com', 'cy@example.com']) {
      const invite = await server.admin('POST', '/admin/v1/invites', { email });
      assert.equal(invite.status, 201, `invite answered ${invite.status}: ${JSON.stringify(invite.body)}`);
      if (email === 'ann@example.com') continue;
      const token = String(invite.body.data.url).split('/#/invite/')[1];
      const accepted = await server.request('POST', '/admin/v1/invites/accept', {
        json: { token, password: 'a long passphrase' },
      });
      assert.equal(
        accepted.status,
        201,
        `accept answered ${accepted.status}: ${JSON.stringify(accepted.body)}`,
      );
    }
    await page.goto(`${server.url}/#/collaborators`);
    const pending = page.getByRole('table', { name: 'Pending invites' });
    await pending.getByText('ann@example.com').waitFor();
    // Several rows, each with its button: a screen reader's list of buttons tells them apart.
    const withdraw = pending.getByRole('button', {
      name: 'Withdraw the invite for ann@example.com',
      exact: true,
    });
    assert.equal(await withdraw.count(), 1, "ann's invite has a Withdraw button named for her");
    const people = page.getByRole('table', { name: 'Collaborators' });
    await people.getByText('cy@example.com').waitFor();
    for (const email of ['bob@example.com', 'cy@example.com']) {
      const remove = people.getByRole('button', { name: `Remove ${email}`, exact: true });
      assert.equal(await remove.count(), 1, `${email} has a Remove button named for them`);
    }
    await withdraw.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Withdraw invite' }).click();
    await pending.waitFor({ state: 'detached' });
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });
});

/** A delivery still being tried: what Redeliver does to it is said before it is pressed. */
describe('dashboard walk: redelivering a delivery still being tried', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let receiver: Receiver;
  let owner: Browser;

  before(async () => {
    ensureDashboardBuilt();
    receiver = await startReceiver();
    // The receiver is down: each attempt fails, and the next is an hour away.
    receiver.respond = () => ({ status: 500 });
    server = await startDeliveringServer();
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: ordersSchema,
      retry: { max_retries: 3, interval_seconds: 3600 },
    });
    const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: receiver.url,
      environment: 'test',
    });
    assert.equal(sub.status, 201, `subscribe answered ${sub.status}: ${sub.text}`);
    owner = await openBrowser(server.url);
    await signInAsOwner(owner.page, server.url);
    owner.errors.length = 0;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
    await receiver?.close();
  });

  test('the drawer says its own attempts go on, next to Redeliver; a finished one says nothing of it', async () => {
    const { key } = await server.createKey({ name: 'walk', environment: 'test' });
    const created = await server.request('POST', '/api/v1/data/orders', {
      key,
      json: { order_id: 'W-1', amount: 1 },
    });
    assert.equal(created.status, 202, `create answered ${created.status}: ${created.text}`);
    await receiver.waitFor(1);
    const page = owner.page;
    await page.goto(`${server.url}/#/deliveries`);
    await page.getByTestId('delivery-row').first().click();
    const detail = page.getByTestId('delivery-detail');
    await detail.getByText('500', { exact: true }).waitFor();
    const redeliver = detail.getByRole('button', { name: 'Redeliver', exact: true });
    const note = detail.getByText(/still being tried/);
    await note.waitFor();
    assert.match(
      (await note.textContent()) ?? '',
      /next attempt .*: Redeliver sends the event once more now, and its own attempts go on too\.$/,
      'the note names the next attempt and says both go out',
    );
    assert.equal(
      await redeliver.getAttribute('aria-describedby'),
      await note.getAttribute('id'),
      'the button is described by the note',
    );
    // Once it is over (here: cancelled by disabling its subscription), nothing goes on.
    await page.keyboard.press('Escape');
    const subs = await server.admin('GET', '/admin/v1/endpoints/orders/webhooks');
    for (const sub of subs.body.data) {
      const disabled = await server.admin('PATCH', `/admin/v1/webhooks/${sub.id}`, { enabled: false });
      assert.equal(disabled.status, 200, `disable answered ${disabled.status}: ${disabled.text}`);
    }
    await page.reload();
    await page.getByTestId('delivery-row').first().getByText('cancelled').waitFor();
    await page.getByTestId('delivery-row').first().click();
    await detail.getByText('cancelled', { exact: true }).waitFor();
    assert.equal(await note.count(), 0, 'a cancelled delivery has no such note');
    assert.equal(await redeliver.getAttribute('aria-describedby'), null, 'nor a description');
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });
});
