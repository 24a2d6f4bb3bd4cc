import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { period, periodSeconds, previousPeriod, utcDay } from '../src/limits/windows.ts';

const at = (iso: string) => Date.parse(iso);

test('windows are calendar periods in UTC', () => {
  assert.deepEqual(period('month', at('2028-02-29T23:59:59.999Z')), {
    window: 'month',
    id: '2028-02',
    start: at('2028-02-01T00:00:00Z'),
    end: at('2028-03-01T00:00:00Z'),
  });
  assert.equal(periodSeconds(period('month', at('2028-02-10T00:00:00Z'))), 29 * 86_400);
  assert.equal(periodSeconds(period('month', at('2027-02-10T00:00:00Z'))), 28 * 86_400);
  assert.equal(period('month', at('2026-12-31T23:59:59Z')).end, at('2027-01-01T00:00:00Z'));
  assert.equal(period('month', at('2027-01-01T00:00:00Z')).id, '2027-01');
  assert.equal(period('day', at('2026-11-22T23:59:59.999Z')).id, '2026-11-22');
  assert.equal(period('day', at('2026-11-23T00:00:00.000Z')).id, '2026-11-23');
  assert.equal(period('minute', at('2026-11-22T14:30:59.999Z')).end, at('2026-11-22T14:31:00Z'));
  assert.equal(previousPeriod(period('month', at('2027-01-15T00:00:00Z'))).id, '2026-12');
});

test('utcDay answers from its last day only within that day, in any order of instants', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: at('2000-01-01T00:00:00Z'), max: at('2100-01-01T00:00:00Z') }), {
        minLength: 1,
      }),
      (instants) => {
        for (const instant of instants) {
          assert.equal(utcDay(instant), new Date(instant).toISOString().slice(0, 10));
          assert.equal(utcDay(instant + 1), new Date(instant + 1).toISOString().slice(0, 10));
          assert.equal(utcDay(instant - 1), new Date(instant - 1).toISOString().slice(0, 10));
        }
      },
    ),
  );
  assert.equal(utcDay(at('2026-11-30T23:59:59.999Z')), '2026-11-30');
  assert.equal(utcDay(at('2026-12-01T00:00:00.000Z')), '2026-12-01');
  assert.equal(utcDay(at('2026-11-30T23:59:59.999Z')), '2026-11-30');
});

test('every instant lies in exactly one period of each window, and periods tile time', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (now) => {
      for (const window of ['minute', 'day', 'month'] as const) {
        const p = period(window, now);
        assert.ok(p.start <= now && now < p.end);
        assert.equal(period(window, p.end).start, p.end);
        assert.equal(previousPeriod(p).end, p.start);
      }
      // Day and month boundaries are minute boundaries (the limiter relies on it).
      assert.equal(period('month', now).start % 60_000, 0);
      assert.equal(period('day', now).start % 60_000, 0);
    }),
  );
});
