import Redis from 'ioredis';
import { ACCOUNT_HEADER, createLogger, createRedis } from '@kana/platform';
import { uniqueId, waitFor } from '@kana/platform/testing';
import type { RulesSnapshot } from '@kana/schemas';
import { RedisSnapshotStore } from './adapters/redis-snapshot-store';
import { ChangeService } from './changes';
import { SnapshotPublisher } from './snapshots';
import { cleanUp, httpCall, startRules } from '../test/harness';

describe('rules admin API against real Postgres, Redis and Kafka', () => {
  let rules: Awaited<ReturnType<typeof startRules>>;
  const account = uniqueId('acc');
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, accountId: string | null = account) =>
    httpCall(rules.url, method, url, payload, accountId ? { [ACCOUNT_HEADER]: accountId } : {});

  beforeAll(async () => {
    rules = await startRules();
  }, 60_000);
  const afterDisconnect: (() => void)[] = [];
  afterEach(() => afterDisconnect.splice(0).forEach((disconnect) => disconnect()));
  afterAll(async () => {
    await rules.stop();
    await cleanUp(rules.config);
  }, 60_000);

  it('refuses admin calls that did not come through the gateway', async () => {
    const response = await call('GET', '/v1/features', undefined, null);
    expect(response.statusCode).toBe(401);
    expect(response.json().message).toMatch(/account/);
  });

  it('names the invalid field', async () => {
    const feature = await call('POST', '/v1/features', { id: 'bad id', name: 'X' });
    expect(feature.statusCode).toBe(400);
    expect(feature.json().message).toContain("'id'");

    await call('POST', '/v1/features', { id: 'messages', name: 'Messages' });
    const rule = await call('POST', '/v1/rules', { featureId: 'messages', eventName: 'Sent', conditions: [{ property: 'n', operator: 'gt', value: 'abc' }] });
    expect(rule.statusCode).toBe(400);
    expect(rule.json().message).toContain("'conditions.0.value'");

    const unknownFeature = await call('POST', '/v1/rules', { featureId: 'nope', eventName: 'Sent' });
    expect(unknownFeature.statusCode).toBe(400);
    expect(unknownFeature.json().message).toContain("'featureId'");

    const limit = await call('GET', '/v1/events/unmapped?limit=abc');
    expect(limit.statusCode).toBe(400);
    expect(limit.json().message).toContain("'limit'");

    const cursor = await call('GET', '/v1/events/unmapped?cursor=forged');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().message).toContain("'cursor'");
  });

  it('creates, lists, changes and deletes features and rules, each change bumping the snapshot version', async () => {
    const accountId = uniqueId('acc');
    const as = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => call(method, url, payload, accountId);
    const snapshot = async () => (await rules.app.snapshotStore.read(accountId))!;

    expect((await as('POST', '/v1/features', { id: 'seats', name: 'Seats' })).statusCode).toBe(201);
    expect((await as('POST', '/v1/features', { id: 'seats', name: 'Seats again' })).statusCode).toBe(409);
    expect((await snapshot()).version).toBe(1);

    const created = await as('POST', '/v1/rules', { featureId: 'seats', eventName: 'Seat Added', conditions: [{ property: 'plan', operator: 'in', value: ['pro'] }] });
    // In the order API.md writes a condition, not jsonb's (shortest key first).
    expect(JSON.stringify(created.json().conditions)).toBe('[{"property":"plan","operator":"in","value":["pro"]}]');
    expect(created.statusCode).toBe(201);
    const rule = created.json();
    expect(rule).toMatchObject({ featureId: 'seats', eventName: 'Seat Added', enabled: true, version: 2 });
    expect(await snapshot()).toEqual({
      accountId,
      version: 2,
      features: [{ id: 'seats', name: 'Seats' }],
      rules: [{ id: rule.id, featureId: 'seats', eventName: 'Seat Added', conditions: [{ property: 'plan', operator: 'in', value: ['pro'] }] }],
    });

    expect((await as('GET', `/v1/rules/${rule.id}`)).json()).toEqual(rule);
    expect((await call('GET', `/v1/rules/${rule.id}`)).statusCode).toBe(404); // another account's rule
    expect((await as('DELETE', '/v1/features/seats')).statusCode).toBe(409); // in use

    const disabled = await as('PATCH', `/v1/rules/${rule.id}`, { enabled: false });
    expect(disabled.json()).toMatchObject({ enabled: false, version: 3 });
    expect((await snapshot()).rules).toEqual([]); // disabled rules are not in the snapshot

    expect((await as('GET', '/v1/rules')).json()).toEqual({ data: [disabled.json()], nextCursor: null });
    expect((await as('DELETE', `/v1/rules/${rule.id}`)).statusCode).toBe(204);
    expect((await as('DELETE', `/v1/rules/${rule.id}`)).statusCode).toBe(404);
    expect((await as('PATCH', `/v1/rules/${rule.id}`, { enabled: true })).statusCode).toBe(404);
    expect((await as('DELETE', '/v1/features/seats')).statusCode).toBe(204);
    expect((await as('DELETE', '/v1/features/seats')).statusCode).toBe(404);
    expect(await snapshot()).toEqual({ accountId, version: 5, features: [], rules: [] });

    const jobs = (await as('GET', '/v1/reprocess-jobs')).json();
    expect(jobs.data).toHaveLength(5);
    const job = (await as('GET', `/v1/reprocess-jobs/${jobs.data[0].id}`)).json();
    expect(job).toMatchObject({ status: 'done', total: 0, processed: 0, mapped: 0 });
    expect((await as('GET', '/v1/reprocess-jobs/nope')).statusCode).toBe(404);
  });

  it('refuses a change that would take the account\'s snapshot past 1 MiB, and always lets it shrink', async () => {
    const accountId = uniqueId('acc');
    const as = (method: 'POST' | 'PATCH' | 'GET', url: string, payload?: unknown) => call(method, url, payload, accountId);
    const snapshot = async () => (await rules.app.snapshotStore.read(accountId))!;
    expect((await as('POST', '/v1/features', { id: 'calls', name: 'Calls' })).statusCode).toBe(201);
    // 20 conditions, each an 'in' list of 28 values of 1,000 characters: ~570 KB of snapshot per rule.
    const large = (tag: string) =>
      Array.from({ length: 20 }, (_, i) => ({ property: `p${i}`, operator: 'in', value: Array.from({ length: 28 }, (_, j) => `${tag}${i}.${j}.`.padEnd(1000, 'x')) }));
    const first = await as('POST', '/v1/rules', { featureId: 'calls', eventName: 'Call', conditions: large('a') });
    expect(first.statusCode).toBe(201);
    const version = (await snapshot()).version;

    const second = await as('POST', '/v1/rules', { featureId: 'calls', eventName: 'Call', conditions: large('b') });
    expect(second.statusCode).toBe(409);
    expect(second.json().message).toMatch(/^the account's features and enabled rules would take 11\d{5} bytes in the rules snapshot .*; the limit is 1048576 bytes \(1 MiB\): delete features or rules/);
    // Nothing of it committed: no rule, no new version.
    expect((await as('GET', '/v1/rules')).json().data).toHaveLength(1);
    expect((await snapshot()).version).toBe(version);

    // Disabled, a rule takes no room in the snapshot; enabling it is what is refused.
    const disabled = await as('POST', '/v1/rules', { featureId: 'calls', eventName: 'Call', conditions: large('c'), enabled: false });
    expect(disabled.statusCode).toBe(201);
    expect((await as('PATCH', `/v1/rules/${disabled.json().id}`, { enabled: true })).statusCode).toBe(409);
    // Making the snapshot smaller is never refused; then the other rule fits.
    expect((await as('PATCH', `/v1/rules/${first.json().id}`, { conditions: [] })).statusCode).toBe(200);
    expect((await as('PATCH', `/v1/rules/${disabled.json().id}`, { enabled: true })).statusCode).toBe(200);
    expect((await snapshot()).rules.map((rule) => rule.id)).toEqual([first.json().id, disabled.json().id]);
  });

  it('previews a rule over 50,000 stored events exactly, and says how far it got when its deadline comes first', async () => {
    const hurried = await startRules({ PREVIEW_PAGE_SIZE: '100', PREVIEW_DEADLINE_MS: '100' });
    try {
      const accountId = uniqueId('big');
      // Stored as usage reports them: every third one on the pro plan; with a context, as real events have.
      const store = (pool: typeof rules.app.pool) =>
        pool.query(
          `INSERT INTO unmapped_events (account_id, event_time, message_id, user_id, event_name, feature_id, reason, rules_version, request_id, received_at, event)
           SELECT $1, t, 'm-' || lpad(g::text, 6, '0'), 'user-' || (g % 100), 'Export', NULL, 'no_rule', 1, 'req-' || g, '2026-11-01T00:00:00.000Z',
             json_build_object('type', 'track', 'event', 'Export', 'userId', 'user-' || (g % 100), 'messageId', 'm-' || lpad(g::text, 6, '0'),
               'timestamp', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'context', json_build_object('ip', '203.0.113.9'), 'integrations', '{}'::json,
               'properties', json_build_object('plan', CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END, 'rows', g))
           FROM generate_series(1, 50000) AS g, LATERAL (SELECT timestamptz '2026-11-01T00:00:00Z' + g * interval '1 second') AS x(t)`,
          [accountId],
        );
      await Promise.all([store(rules.app.pool), store(hurried.app.pool)]);
      const draft = { featureId: 'exports', eventName: 'Export', conditions: [{ property: 'plan', operator: 'eq', value: 'pro' }] };

      const whole = (await httpCall(rules.url, 'POST', '/v1/rules/preview', draft, { [ACCOUNT_HEADER]: accountId })).json();
      expect(whole).toMatchObject({ matchingUnmapped: 16_666, complete: true, scanned: 50_000 });

      const partial = (await httpCall(hurried.url, 'POST', '/v1/rules/preview', draft, { [ACCOUNT_HEADER]: accountId })).json();
      expect(partial.complete).toBe(false);
      expect(partial.scanned % 100).toBe(0);
      expect(partial.scanned).toBeGreaterThan(0);
      expect(partial.scanned).toBeLessThan(50_000);
      // Exact among the oldest `scanned`: every third of them.
      expect(partial.matchingUnmapped).toBe(Math.floor(partial.scanned / 3));
      expect(partial.sample.map((event: { messageId: string }) => event.messageId)).toEqual(Array.from({ length: 10 }, (_, i) => `m-${String(3 * (i + 1)).padStart(6, '0')}`));
      expect(partial.sample[0]).toEqual({ messageId: 'm-000003', userId: 'user-3', event: 'Export', properties: { plan: 'pro', rows: 3 }, timestamp: '2026-11-01T00:00:03.000Z', reason: 'no_rule' });
    } finally {
      await hurried.stop();
      await cleanUp(hurried.config);
    }
  }, 60_000);

  it('paginates with an opaque cursor', async () => {
    const accountId = uniqueId('acc');
    for (const id of ['a', 'b', 'c']) await call('POST', '/v1/features', { id, name: id.toUpperCase() }, accountId);
    const first = (await call('GET', '/v1/features?limit=2', undefined, accountId)).json();
    expect(first.data.map((f: { id: string }) => f.id)).toEqual(['a', 'b']);
    const second = (await call('GET', `/v1/features?limit=2&cursor=${first.nextCursor}`, undefined, accountId)).json();
    expect(second).toMatchObject({ data: [{ id: 'c', name: 'C' }], nextCursor: null });
  });

  it('serves the snapshot to usage on a cache miss and reseeds Redis', async () => {
    const unknown = await httpCall(rules.url, 'GET', `/internal/accounts/${uniqueId('none')}/rules-snapshot`);
    expect(unknown.json()).toMatchObject({ version: 0, features: [], rules: [] });

    await rules.app.redis.del(`rules:${account}`);
    const served = (await httpCall(rules.url, 'GET', `/internal/accounts/${account}/rules-snapshot`)).json() as RulesSnapshot;
    expect(served.version).toBeGreaterThan(0);
    expect(await rules.app.snapshotStore.read(account)).toEqual(served);
    // Usage reads the account and version from the value's first bytes to skip a snapshot it already holds.
    expect(await rules.app.redis.get(`rules:${account}`)).toMatch(new RegExp(`^\\{"accountId":"${account}","version":${served.version},"features":`));
  });

  it('writes again a snapshot whose Redis write failed, and serves usage from Postgres meanwhile', async () => {
    const accountId = uniqueId('stale');
    const as = (method: 'POST' | 'DELETE', url: string, payload?: unknown) => httpCall(rules.url, method, url, payload, { [ACCOUNT_HEADER]: accountId });
    await as('POST', '/v1/features', { id: 'messages', name: 'Messages' });
    const rule = (await as('POST', '/v1/rules', { featureId: 'messages', eventName: 'Message Sent' })).json() as { id: string };
    const before = (await rules.app.snapshotStore.read(accountId))!;
    expect(before.rules).toHaveLength(1);

    // The rule is deleted while Redis cannot be reached (a real client of a closed port): committed, not written.
    const unreachable = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    unreachable.on('error', () => undefined);
    afterDisconnect.push(() => unreachable.disconnect());
    const failing = new SnapshotPublisher({ pool: rules.app.pool, store: new RedisSnapshotStore(unreachable), logger: createLogger({ name: 't', level: 'silent' }) });
    await new ChangeService({ pool: rules.app.pool, snapshots: failing }).deleteRule(accountId, rule.id);
    // Usage's cache miss meanwhile gets the current snapshot, not a 503 that would stall it.
    expect(await failing.publish(accountId)).toMatchObject({ version: before.version + 1, rules: [] });
    // Nothing would write it again (the change has nothing to reprocess) but the worker's sweep:
    // until then usage would go on counting the deleted rule.
    await waitFor(async () => (await rules.app.snapshotStore.read(accountId))?.version === before.version + 1, { timeoutMs: 10_000, what: 'the sweep writes the snapshot' });
    expect((await rules.app.snapshotStore.read(accountId))!.rules).toEqual([]);
  });

  it('never lets an older snapshot replace a newer one, whatever order concurrent writers finish in', async () => {
    const redis = createRedis({ url: rules.config.REDIS_URL, keyPrefix: rules.config.REDIS_KEY_PREFIX, logger: createLogger({ name: 't', level: 'silent' }) });
    await redis.connect();
    // Separate clients (connections) race each other for one key.
    const clients = Array.from({ length: 8 }, () => redis.duplicate());
    try {
      const writers = clients.map((client) => new RedisSnapshotStore(client));
      const accountId = uniqueId('cas');
      const versions = Array.from({ length: 200 }, (_, index) => index + 1).sort(() => Math.random() - 0.5);
      const results = await Promise.all(
        versions.map((version, index) => writers[index % writers.length]!.write({ accountId, version, features: [{ id: `f${version}`, name: 'x' }], rules: [] })),
      );
      expect(results.filter(Boolean).length).toBeGreaterThan(0);
      expect(await writers[0]!.read(accountId)).toEqual({ accountId, version: 200, features: [{ id: 'f200', name: 'x' }], rules: [] });
      expect(await writers[1]!.write({ accountId, version: 199, features: [], rules: [] })).toBe(false);
      expect(await writers[1]!.write({ accountId, version: 200, features: [], rules: [] })).toBe(false);
      expect((await writers[0]!.read(accountId))!.features).toEqual([{ id: 'f200', name: 'x' }]);
      // the key lives under the client's prefix, where usage reads it
      expect(await redis.exists(`rules:${accountId}`)).toBe(1);
      // A stored value not starting with account and version (not ours, or from an older writer) is compared whole.
      await redis.set(`rules:${accountId}`, JSON.stringify({ version: 500, accountId, features: [], rules: [] }));
      expect(await writers[2]!.write({ accountId, version: 499, features: [], rules: [] })).toBe(false);
      expect(await writers[2]!.write({ accountId, version: 501, features: [], rules: [] })).toBe(true);
      expect((await writers[0]!.read(accountId))!.version).toBe(501);
    } finally {
      // Also when an expectation failed: an open client would keep jest from exiting.
      await Promise.all([...clients, redis].map((client) => client.quit()));
    }
  });
});
