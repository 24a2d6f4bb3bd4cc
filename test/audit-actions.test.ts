import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AUDIT_ACTIONS, ROUTE_ACTIONS, SELF_LOGGED_ACTIONS } from '../src/dashboard/audit-actions.ts';

test('the audit filter offers each action once, those of a kind together', () => {
  const logged = new Set<string>([...SELF_LOGGED_ACTIONS, ...Object.values(ROUTE_ACTIONS)]);
  assert.ok(logged.size > 30, [...logged].join());
  assert.deepEqual([...AUDIT_ACTIONS].sort(), [...logged].sort());
  const kinds = AUDIT_ACTIONS.map((action) => action.split('.')[0]);
  assert.deepEqual(
    kinds.filter((kind, i) => i > 0 && kind !== kinds[i - 1] && kinds.slice(0, i).includes(kind)),
    [],
    'a kind comes back after another',
  );
  assert.deepEqual(AUDIT_ACTIONS.slice(0, 4), [
    'session.sign_in',
    'session.sign_in_failed',
    'session.sign_in_locked',
    'session.sign_out',
  ]);
});

test("docs/dashboard.md's audit line names every action the server logs", () => {
  const doc = readFileSync(new URL('../docs/dashboard.md', import.meta.url), 'utf8');
  const line = doc.split('\n').find((l) => l.startsWith('| `GET /admin/v1/audit'));
  assert.ok(line);
  const documented = new Set([...line.matchAll(/`([a-z_]+\.[a-z_]+)`/g)].map((m) => m[1]));
  assert.deepEqual(
    AUDIT_ACTIONS.filter((a) => !documented.has(a)),
    [],
    "docs/dashboard.md's audit line lacks these",
  );
});
