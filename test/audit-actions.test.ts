import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LOGGED_CALL_ACTIONS, SELF_LOGGED_ACTIONS } from '../src/dashboard/audit.ts';
import { AUDIT_ACTIONS } from '../web/src/api/types.ts';

test("the dashboard's audit filter and docs/dashboard.md offer every action the server logs", () => {
  const logged = new Set([...LOGGED_CALL_ACTIONS, ...SELF_LOGGED_ACTIONS]);
  assert.ok(logged.size > 30, [...logged].join());
  const offered = new Set(AUDIT_ACTIONS);
  assert.deepEqual(
    [...logged].filter((a) => !offered.has(a)),
    [],
    'web/src/api/types.ts AUDIT_ACTIONS lacks these: the audit page cannot filter by them',
  );
  assert.deepEqual(
    [...offered].filter((a) => !logged.has(a)),
    [],
    'AUDIT_ACTIONS offers actions nothing logs',
  );
  const doc = readFileSync(new URL('../docs/dashboard.md', import.meta.url), 'utf8');
  const line = doc.split('\n').find((l) => l.startsWith('| `GET /admin/v1/audit'));
  assert.ok(line);
  const documented = new Set([...line.matchAll(/`([a-z_]+\.[a-z_]+)`/g)].map((m) => m[1]));
  assert.deepEqual(
    [...logged].filter((a) => !documented.has(a)),
    [],
    "docs/dashboard.md's audit line lacks these",
  );
});
