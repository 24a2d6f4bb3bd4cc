import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitsText } from '../src/keys/limits-text.ts';

/**
 * One rule for a key's effective limits, worded for `gatehouse keys list` (terminal) and for the
 * dashboard's Keys page: its own limit for a window, else the installation default marked so.
 */
test("a key's limits: its own, then the installation defaults that fill the windows it leaves empty", () => {
  const defaults = { per_minute: 60, per_day: null, per_month: 100000 };
  const mixed = { per_minute: 10, per_day: 500, per_month: null };
  // The CLI's table.
  assert.equal(limitsText({ per_day: 500 }, undefined, 'terminal'), '500/day');
  assert.equal(limitsText({}, defaults, 'terminal'), '60/minute (default), 100000/month (default)');
  assert.equal(limitsText(mixed, defaults, 'terminal'), '10/minute, 500/day, 100000/month (default)');
  // The API did not say its defaults: whatever the installation sets applies.
  assert.equal(limitsText({}, undefined, 'terminal'), 'defaults');
  assert.equal(limitsText({}, {}, 'terminal'), 'none');
  assert.equal(limitsText({}, null, 'terminal'), 'none');
  // The dashboard's row: short units, numbers in the reader's locale.
  const n = (value: number) => value.toLocaleString();
  assert.equal(limitsText({ per_minute: 600 }, {}, 'dashboard'), '600/min');
  assert.equal(limitsText({}, defaults, 'dashboard'), `60/min (default) · ${n(100000)}/month (default)`);
  assert.equal(limitsText(mixed, defaults, 'dashboard'), `10/min · 500/day · ${n(100000)}/month (default)`);
  assert.equal(limitsText({}, {}, 'dashboard'), 'none');
});
