import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { AddressGuard } from '../src/infra/http-client/address-guard.ts';

/** The address a URL's host becomes once parsed, as the webhook client sees it. */
const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '');

describe('webhook address guard', () => {
  const guard = new AddressGuard([]);

  test('IPv6 forms that carry a private IPv4 address are refused like the address itself', () => {
    for (const url of [
      'http://[::127.0.0.1]/', // IPv4-compatible: ::7f00:1
      'http://[::ffff:127.0.0.1]/', // mapped
      'http://[::ffff:7f00:1]/', // mapped, in hex
      'http://[::ffff:a9fe:a9fe]/', // mapped metadata address
      'http://[::ffff:0:7f00:1]/', // IPv4-translated (SIIT)
      'http://[2002:7f00:1::1]/', // 6to4 of 127.0.0.1
      'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', // Teredo
      'http://[64:ff9b::a9fe:a9fe]/', // NAT64 of the metadata address
      'http://[64:ff9b:1::a9fe:a9fe]/', // the same, local-use NAT64 prefix (RFC 8215)
      'http://[fec0::1]/', // site-local (deprecated)
      'http://[::1]/',
      'http://[::]/',
    ]) {
      const address = hostOf(url);
      assert.ok(guard.refusal(address), `${url} (${address}) was not refused`);
    }
  });

  test('public addresses pass, in either family and as a mapped address', () => {
    for (const address of ['8.8.8.8', '2606:4700:4700::1111', '::ffff:808:808', '::ffff:8.8.8.8']) {
      assert.equal(guard.refusal(address), undefined, address);
    }
  });

  test('GATEHOUSE_WEBHOOK_ALLOW_NETS lets a listed network through, mapped forms included', () => {
    const allowing = new AddressGuard(
      loadConfig({ GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8, fd00::/8' }).webhookAllowNets,
    );
    for (const address of ['127.0.0.1', '::ffff:7f00:1', 'fd12::1'])
      assert.equal(allowing.refusal(address), undefined, address);
    assert.ok(allowing.refusal('10.0.0.1'));
  });

  test('a bad GATEHOUSE_WEBHOOK_ALLOW_NETS is a ConfigError naming it, found at start-up', () => {
    for (const value of [
      '127.0.0.0/99',
      'localhost',
      '127.0.0.1/8/9',
      '::1/200',
      '10.0.0.0/abc',
      '10.0.0.0/',
    ]) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_WEBHOOK_ALLOW_NETS: value }),
        (error: unknown) =>
          error instanceof ConfigError && /GATEHOUSE_WEBHOOK_ALLOW_NETS/.test(error.message),
        value,
      );
    }
  });
});
