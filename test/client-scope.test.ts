import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientScope } from '../src/limits/client-scope.ts';

test('an IPv6 client is its /64, however its address is written', () => {
  for (const address of [
    '2001:db8:1:2::1',
    '2001:DB8:1:2:ffff:ffff:ffff:ffff',
    '2001:0db8:0001:0002:0:0:0:9',
    '2001:db8:1:2::9%eth0',
    '2001:db8:1:2:0:0:192.0.2.1',
  ]) {
    assert.equal(clientScope(address), '2001:db8:1:2::/64', address);
  }
  assert.equal(clientScope('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next /64 is another client');
  assert.equal(clientScope('2001:db8::'), '2001:db8:0:0::/64', 'zeros expanded');
  assert.equal(clientScope('::1'), '0:0:0:0::/64', 'loopback');
});

test('IPv4, mapped into IPv6 or not, stays per address; what is no address is kept as sent', () => {
  assert.equal(clientScope('203.0.113.7'), '203.0.113.7', 'IPv4');
  assert.equal(clientScope('203.0.113.8'), '203.0.113.8', 'its neighbour is another client');
  assert.equal(clientScope('::ffff:203.0.113.7'), '203.0.113.7', 'IPv4-mapped, dotted');
  assert.equal(clientScope('::FFFF:cb00:7107'), '203.0.113.7', 'IPv4-mapped, in hex');
  assert.equal(clientScope('64:ff9b::203.0.113.7'), '203.0.113.7', 'NAT64 well-known prefix');
  assert.equal(clientScope('unknown'), 'unknown', 'not an address');
  assert.equal(clientScope('2001:db8::1::2'), '2001:db8::1::2', 'not a valid IPv6 address');
});
