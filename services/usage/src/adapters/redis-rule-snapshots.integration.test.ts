import { createLogger, createMetrics, createRedis, isRetriable, type Redis } from '@kana/platform';
import { testEnv, uniqueId } from '@kana/platform/testing';
import { rulesSnapshotKey, snapshotJson } from '@kana/schemas';
import { RulesStandIn } from '../rules-stand-in';
import { aSnapshot } from '../test-builders';
import { HttpRulesClient } from './http-rules-client';
import { RuleSnapshots } from './redis-rule-snapshots';

describe('rules snapshots from Redis and the rules service', () => {
  const env = testEnv('usage', uniqueId('rules'));
  const logger = createLogger({ name: 'rules-test', level: 'silent' });
  const redis: Redis = createRedis({ url: env.REDIS_URL!, keyPrefix: env.REDIS_KEY_PREFIX, logger });
  const standIn = new RulesStandIn(redis);
  const accounts = ['a1', 'a2', 'a3'];
  let commands = 0;
  let snapshots: RuleSnapshots;

  beforeAll(async () => {
    await redis.connect();
    const url = await standIn.start();
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<typeof send>) => {
      commands++;
      return send(...args);
    }) as typeof redis.sendCommand;
    snapshots = new RuleSnapshots({ redis, rules: new HttpRulesClient({ rulesUrl: url, timeoutMs: 500 }), logger, metrics: createMetrics('t', { defaults: false }) });
  });

  afterAll(async () => {
    await standIn.stop();
    await redis.del(...accounts.map((a) => rulesSnapshotKey(a)));
    redis.disconnect();
  });

  beforeEach(async () => {
    standIn.down = false;
    for (const accountId of accounts) {
      standIn.snapshots.set(accountId, aSnapshot({ accountId, version: 1 }));
      await redis.set(rulesSnapshotKey(accountId), snapshotJson(aSnapshot({ accountId, version: 1 })));
    }
  });

  it('reads every account of a batch in one Redis round trip', async () => {
    // The first call of a process may load the script (EVALSHA, then EVAL); every later one is a single call.
    await snapshots.forBatch(new Map(accounts.map((a) => [a, 0])));
    commands = 0;
    const result = await snapshots.forBatch(new Map(accounts.map((a) => [a, 0])));
    expect([...result.keys()].sort()).toEqual(accounts);
    expect(commands).toBe(1);
  });

  it('does not receive an unchanged snapshot again, however large, and takes a changed one', async () => {
    const outputBytes = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))![1]);
    // ~1 MiB: 12,000 features, as a large account's snapshot can be.
    const large = (version: number) => aSnapshot({ accountId: 'big', version, features: Array.from({ length: 12_000 }, (_, i) => ({ id: `feature_${i}`, name: `A feature called ${i}`.padEnd(60, '.') })) });
    await redis.set(rulesSnapshotKey('big'), snapshotJson(large(7)));
    expect((await snapshots.forBatch(new Map([['big', 0]]))).get('big')!.features).toHaveLength(12_000);

    const before = await outputBytes();
    for (let batch = 0; batch < 5; batch++) expect((await snapshots.forBatch(new Map([['big', 0]]))).get('big')!.version).toBe(7);
    // Five batches of a 1 MiB snapshot re-read would be over 5 MB; INFO's own answers are a few KB.
    expect((await outputBytes()) - before).toBeLessThan(50_000);

    await redis.set(rulesSnapshotKey('big'), snapshotJson(large(8)));
    expect((await snapshots.forBatch(new Map([['big', 0]]))).get('big')!.version).toBe(8);
    await redis.del(rulesSnapshotKey('big'));
  });

  it('asks the rules service on a miss, which reseeds Redis', async () => {
    await redis.del(rulesSnapshotKey('a2'));
    const before = standIn.requests;
    const result = await snapshots.forBatch(new Map([['a2', 0]]));
    expect(result.get('a2')!.version).toBe(1);
    expect(standIn.requests).toBe(before + 1);
    expect(await redis.get(rulesSnapshotKey('a2'))).not.toBeNull();
  });

  it('gives an account without rules an empty snapshot rather than failing', async () => {
    const result = await snapshots.forBatch(new Map([['nobody', 0]]));
    expect(result.get('nobody')).toEqual({ accountId: 'nobody', version: 0, features: [], rules: [] });
    await redis.del(rulesSnapshotKey('nobody'));
  });

  it('fetches a newer snapshot when a reprocessed event needs it, and fails retriably when none exists yet', async () => {
    standIn.snapshots.set('a1', aSnapshot({ accountId: 'a1', version: 3 }));
    expect((await snapshots.forBatch(new Map([['a1', 3]]))).get('a1')!.version).toBe(3);
    const error = await snapshots.forBatch(new Map([['a1', 4]])).catch((e: unknown) => e);
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toMatch(/version 3.*needs 4/);
  });

  it('fails retriably when Redis has nothing and the rules service is down', async () => {
    await redis.del(rulesSnapshotKey('a3'));
    standIn.down = true;
    const error = await snapshots.forBatch(new Map([['a3', 0]])).catch((e: unknown) => e);
    expect(isRetriable(error)).toBe(true);
    expect((error as Error).message).toMatch(/a3/);
  });

  it('treats an unreadable value in Redis as a miss', async () => {
    await redis.set(rulesSnapshotKey('a2'), '{"not":"a snapshot"}');
    const result = await snapshots.forBatch(new Map([['a2', 0]]));
    expect(result.get('a2')!.rules).toHaveLength(2);
  });

  it('never goes back to an older version than one it has seen', async () => {
    await redis.set(rulesSnapshotKey('a1'), snapshotJson(aSnapshot({ accountId: 'a1', version: 5 })));
    expect((await snapshots.forBatch(new Map([['a1', 0]]))).get('a1')!.version).toBe(5);
    await redis.set(rulesSnapshotKey('a1'), snapshotJson(aSnapshot({ accountId: 'a1', version: 4 })));
    expect((await snapshots.forBatch(new Map([['a1', 0]]))).get('a1')!.version).toBe(5);
  });
});
