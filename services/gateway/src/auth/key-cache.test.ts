import { KeyCache } from './key-cache';
import { MemoryKeyStore } from '../testing/memory-adapters';

function setup() {
  let now = 1_000_000;
  const store = new MemoryKeyStore().add('kana_live_a', 'acc_a');
  const cache = new KeyCache({ ttlMs: 5_000, staleIfErrorMs: 60_000, maxEntries: 2 }, { store, now: () => now });
  return { store, cache, advance: (ms: number) => (now += ms) };
}

describe('KeyCache', () => {
  it('resolves known keys, answers null for unknown ones, and caches both', async () => {
    const { store, cache } = setup();
    expect(await cache.accountFor('kana_live_a')).toBe('acc_a');
    expect(await cache.accountFor('kana_live_a')).toBe('acc_a');
    expect(await cache.accountFor('kana_live_nope')).toBeNull();
    expect(await cache.accountFor('kana_live_nope')).toBeNull();
    expect(store.lookups).toBe(2);
  });

  it('stops accepting a revoked key once the TTL has passed', async () => {
    const { store, cache, advance } = setup();
    await cache.accountFor('kana_live_a');
    store.revoke('kana_live_a');
    advance(4_999);
    expect(await cache.accountFor('kana_live_a')).toBe('acc_a');
    advance(2);
    expect(await cache.accountFor('kana_live_a')).toBeNull();
  });

  it('refreshes a key past half its TTL in the background, answering at once meanwhile', async () => {
    const { store, cache, advance } = setup();
    await cache.accountFor('kana_live_a');
    advance(2_600);
    store.revoke('kana_live_a');
    expect(cache.cached('kana_live_a')).toBe('acc_a');
    expect(cache.cached('kana_live_a')).toBe('acc_a');
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.lookups).toBe(2);
    expect(cache.cached('kana_live_a')).toBeNull();
  });

  it('shares one lookup between concurrent requests for the same key', async () => {
    const { store, cache } = setup();
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.accountFor('kana_live_a')));
    expect(new Set(results)).toEqual(new Set(['acc_a']));
    expect(store.lookups).toBe(1);
  });

  it('uses a recently seen entry while the store is down, and fails as unavailable without one', async () => {
    const { store, cache, advance } = setup();
    await cache.accountFor('kana_live_a');
    store.failing = true;
    advance(10_000);
    expect(await cache.accountFor('kana_live_a')).toBe('acc_a');
    await expect(cache.accountFor('kana_live_b')).rejects.toMatchObject({ status: 503, retriable: true });
    advance(60_000);
    await expect(cache.accountFor('kana_live_a')).rejects.toMatchObject({ status: 503 });
  });

  it('keeps at most maxEntries entries', async () => {
    const { store, cache } = setup();
    await cache.accountFor('kana_live_a');
    await cache.accountFor('kana_live_b');
    await cache.accountFor('kana_live_c');
    await cache.accountFor('kana_live_a');
    expect(store.lookups).toBe(4);
  });
});
