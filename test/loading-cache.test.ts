import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadingCache } from '../src/infra/cache/loading-cache.ts';

test('a load that fails after an invalidation leaves the newer load cached', async () => {
  const settle: Array<{ resolve: (v: string) => void; reject: (e: Error) => void }> = [];
  let loads = 0;
  const cache = new LoadingCache<string, string>(60_000, 10, () => {
    loads++;
    return new Promise<string>((resolve, reject) => settle.push({ resolve, reject }));
  });
  const first = cache.get('k');
  cache.delete('k'); // an invalidation while the first load is in flight
  const second = cache.get('k');
  assert.equal(loads, 2);
  settle[0]?.reject(new Error('database hiccup'));
  await assert.rejects(first, /hiccup/);
  settle[1]?.resolve('fresh');
  assert.equal(await second, 'fresh');
  // The newer load's value is served from memory: no third load.
  assert.deepEqual(cache.peek('k'), { value: 'fresh' });
  assert.equal(await cache.get('k'), 'fresh');
  assert.equal(loads, 2);
});

test('a failed load is forgotten: the next get loads again', async () => {
  let loads = 0;
  const cache = new LoadingCache<string, string>(60_000, 10, async () => {
    loads++;
    if (loads === 1) throw new Error('once');
    return 'ok';
  });
  await assert.rejects(cache.get('k'), /once/);
  assert.equal(cache.peek('k'), undefined);
  assert.equal(await cache.get('k'), 'ok');
  assert.equal(loads, 2);
});
