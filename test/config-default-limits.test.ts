import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

/**
 * The installation's default limits are held to what a key's own are (a 400 from the API): a
 * shorter window's default above a longer one's could never be reached, so the start is refused
 * with a config error naming both variables and their values.
 */
describe('GATEHOUSE_DEFAULT_PER_* checked against each other', () => {
  test('a shorter window above a longer one is a config error naming both; windows in order are taken', () => {
    for (const [env, message] of [
      [
        { GATEHOUSE_DEFAULT_PER_MINUTE: '5000', GATEHOUSE_DEFAULT_PER_DAY: '1000' },
        'GATEHOUSE_DEFAULT_PER_MINUTE (5000) cannot be more than GATEHOUSE_DEFAULT_PER_DAY (1000): lower GATEHOUSE_DEFAULT_PER_MINUTE or raise GATEHOUSE_DEFAULT_PER_DAY',
      ],
      [
        { GATEHOUSE_DEFAULT_PER_DAY: '50000', GATEHOUSE_DEFAULT_PER_MONTH: '10000' },
        'GATEHOUSE_DEFAULT_PER_DAY (50000) cannot be more than GATEHOUSE_DEFAULT_PER_MONTH (10000): lower GATEHOUSE_DEFAULT_PER_DAY or raise GATEHOUSE_DEFAULT_PER_MONTH',
      ],
      // No day limit between them: minute against month.
      [
        { GATEHOUSE_DEFAULT_PER_MINUTE: '200', GATEHOUSE_DEFAULT_PER_MONTH: '100' },
        'GATEHOUSE_DEFAULT_PER_MINUTE (200) cannot be more than GATEHOUSE_DEFAULT_PER_MONTH (100): lower GATEHOUSE_DEFAULT_PER_MINUTE or raise GATEHOUSE_DEFAULT_PER_MONTH',
      ],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && error.message === message,
        JSON.stringify(env),
      );
    }
    // Windows in order, equal, or unset (0 is unset) are taken as they are.
    assert.deepEqual(
      loadConfig({
        GATEHOUSE_DEFAULT_PER_MINUTE: '60',
        GATEHOUSE_DEFAULT_PER_DAY: '1000',
        GATEHOUSE_DEFAULT_PER_MONTH: '20000',
      }).limits.defaults,
      { per_minute: 60, per_day: 1000, per_month: 20000 },
    );
    assert.deepEqual(
      loadConfig({ GATEHOUSE_DEFAULT_PER_MINUTE: '1000', GATEHOUSE_DEFAULT_PER_DAY: '1000' }).limits.defaults,
      { per_minute: 1000, per_day: 1000 },
    );
    assert.deepEqual(
      loadConfig({ GATEHOUSE_DEFAULT_PER_MINUTE: '5000', GATEHOUSE_DEFAULT_PER_DAY: '0' }).limits.defaults,
      { per_minute: 5000 },
    );
  });
});
