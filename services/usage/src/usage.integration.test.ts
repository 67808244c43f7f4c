import type { AddressInfo } from 'node:net';
import { EventCodec, rulesSnapshotKey, topicNames, userKey, type IdentityChange, type TrackMessage } from '@kana/schemas';
import { CoalescingProducer, UnavailableError, createKafka, createLogger, createMetrics, createRedis, type Redis } from '@kana/platform';
import { deleteTopicsWithPrefix, dropSchema, readTopic, testEnv, uniqueId, waitFor } from '@kana/platform/testing';
import { buildUsage } from './app';
import { usageEnv } from './config';
import { RulesStandIn } from './rules-stand-in';
import { aReprocessMessage, aSnapshot, aTrackMessage } from './test-builders';

jest.setTimeout(120_000);

// The whole service against the real Kafka, registry, Postgres and Redis. Each
// test uses its own account, so they share one running instance.
describe('usage service', () => {
  const env = testEnv('usage', uniqueId('usage'));
  const logger = createLogger({ name: 'usage-test', level: env.LOG_LEVEL });
  const topics = topicNames(env.TOPIC_PREFIX);
  const redis: Redis = createRedis({ url: env.REDIS_URL!, keyPrefix: env.REDIS_KEY_PREFIX, logger });
  const rules = new RulesStandIn(redis);
  const kafka = createKafka({ brokers: [env.KAFKA_BROKERS!], clientId: 'usage-test', logger });
  const producer = new CoalescingProducer({}, { kafka, logger, metrics: createMetrics('usage-test', { defaults: false }) });
  const codec = EventCodec.connect(env.SCHEMA_REGISTRY_URL!, topics);
  const accounts: string[] = [];
  let crashAfter: string | undefined;
  let config: ReturnType<typeof usageEnv.parse>;
  let service: ReturnType<typeof buildUsage>;

  const start = async () => {
    service = buildUsage(config, {
      logger,
      // Simulates a crash after the batch was committed to Postgres and produced, before its offsets were committed.
      interceptBatch: async (_topic, messages, handle) => {
        const result = await handle();
        if (crashAfter && messages.some((m) => (m.value as TrackMessage).event?.messageId === crashAfter)) {
          crashAfter = undefined;
          // The track consumer leaves its group at once, like a killed process: the batch is not committed.
          void service.consumers[0]!.stop();
          throw new UnavailableError('simulated crash between the Postgres commit and the offset commit');
        }
        return result;
      },
    });
    await service.lifecycle.start();
  };

  const newAccount = async (snapshot = aSnapshot()) => {
    const accountId = uniqueId('acc_');
    accounts.push(accountId);
    rules.snapshots.set(accountId, { ...snapshot, accountId });
    await redis.set(rulesSnapshotKey(accountId), JSON.stringify({ ...snapshot, accountId }));
    return accountId;
  };

  const send = async (topic: 'track' | 'reprocess', ...messages: TrackMessage[]) => {
    for (const message of messages) {
      await producer.send(topics[topic], [{ key: userKey(message.accountId, message.event.userId), value: await codec.encode(topic, message as never) }]);
    }
  };

  // Real HTTP rather than fastify's inject(), which cannot load its ESM cookie dependency under jest.
  const get = async (path: string, accountId?: string) => {
    const { port } = service.http.server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: accountId ? { 'x-kana-account-id': accountId } : {} });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const totals = async (accountId: string, query = '') => {
    const response = await get(`/v1/usage${query}`, accountId);
    expect(response.status).toBe(200);
    return response.body.data as { userId: string; featureId: string; total: number }[];
  };

  const storedEvent = async (accountId: string, messageId: string) =>
    (await service.pool.query('SELECT outcome, reason FROM message_keys WHERE account_id = $1 AND message_id = $2', [accountId, messageId])).rows[0] as
      | { outcome: string; reason: string | null }
      | undefined;

  beforeAll(async () => {
    await redis.connect();
    const rulesUrl = await rules.start();
    config = usageEnv.parse({ ...env, RULES_URL: rulesUrl, PORT: '0', RULES_TIMEOUT_MS: '500' });
    await start();
    await codec.registerAll();
    await producer.start();
  });

  afterAll(async () => {
    await service?.lifecycle.stop();
    await producer.stop();
    await rules.stop();
    if (accounts.length > 0) await redis.del(...accounts.map((accountId) => rulesSnapshotKey(accountId)));
    redis.disconnect();
    await dropSchema(env.DATABASE_SCHEMA!);
    await deleteTopicsWithPrefix(env.TOPIC_PREFIX!);
  });

  it('records usage for properties.featureId and counts a duplicate once', async () => {
    const accountId = await newAccount();
    const event = aTrackMessage({ event: 'Anything', properties: { featureId: 'sms', delta: 3 } }, accountId);
    await send('track', event, { ...event, requestId: 'retry' });
    await send('track', aTrackMessage({ event: 'Anything', properties: { featureId: 'sms' } }, accountId));

    await waitFor(async () => (await totals(accountId))[0]?.total === 4, { what: 'usage total 4' });
    const records = await readTopic(codec, 'usageRecords', (all) => all.filter((m) => m.value.accountId === accountId).length >= 2);
    const mine = records.filter((m) => m.value.accountId === accountId);
    expect(new Set(mine.map((m) => m.value.id)).size).toBe(2);
    expect(mine.find((m) => m.value.messageId === event.event.messageId)!.value).toMatchObject({ featureId: 'sms', delta: 3, ruleId: null, userId: 'user-1' });
    expect(mine[0]!.key).toBe(`${accountId}:user-1`);
  });

  it('maps one event to two features through rules', async () => {
    const accountId = await newAccount();
    const event = aTrackMessage({ properties: { channel: 'sms' } }, accountId);
    await send('track', event);
    const records = await readTopic(codec, 'usageRecords', (all) => all.filter((m) => m.value.messageId === event.event.messageId).length >= 2);
    const mine = records.filter((m) => m.value.messageId === event.event.messageId).map((m) => [m.value.featureId, m.value.ruleId]);
    expect(mine.sort()).toEqual([
      ['messages', 'rule-messages'],
      ['sms', 'rule-sms'],
    ]);
    expect(await totals(accountId)).toEqual([
      { userId: 'user-1', featureId: 'messages', total: 1 },
      { userId: 'user-1', featureId: 'sms', total: 1 },
    ]);
  });

  it('publishes unknown features and events no rule matches as unmapped, and stores them so', async () => {
    const accountId = await newAccount();
    const unknown = aTrackMessage({ properties: { featureId: 'nope' } }, accountId);
    const noRule = aTrackMessage({ event: 'Seat Added' }, accountId);
    await send('track', unknown, noRule);
    const unmapped = await readTopic(codec, 'unmapped', (all) => all.filter((m) => m.value.accountId === accountId).length >= 2);
    const reasons = Object.fromEntries(unmapped.filter((m) => m.value.accountId === accountId).map((m) => [m.value.event.messageId, m.value.reason]));
    expect(reasons).toEqual({ [unknown.event.messageId]: 'unknown_feature', [noRule.event.messageId]: 'no_rule' });
    expect(await storedEvent(accountId, noRule.event.messageId)).toEqual({ outcome: 'unmapped', reason: 'no_rule' });
    expect(await totals(accountId)).toEqual([]);
  });

  it('never marks an event unmapped while no snapshot can be had, and maps it once the rules are back', async () => {
    const accountId = await newAccount();
    const first = aTrackMessage({}, accountId);
    await send('track', first);
    await waitFor(async () => (await totals(accountId))[0]?.total === 1, { what: 'the first event' });

    // Redis loses the snapshot mid-stream while the rules service is down.
    rules.down = true;
    await redis.del(rulesSnapshotKey(accountId));
    const requestsBefore = rules.requests;
    const during = aTrackMessage({}, accountId);
    await send('track', during);
    await waitFor(() => rules.requests >= requestsBefore + 2, { what: 'retries asking the rules service' });
    expect(await storedEvent(accountId, during.event.messageId)).toBeUndefined();

    rules.down = false;
    await waitFor(async () => (await totals(accountId))[0]?.total === 2, { what: 'the event held back' });
    expect(await storedEvent(accountId, during.event.messageId)).toEqual({ outcome: 'mapped', reason: null });
    expect(await redis.get(rulesSnapshotKey(accountId))).not.toBeNull();
  });

  it('evaluates a reprocessed event against at least its minRulesVersion and reports that it now maps', async () => {
    const accountId = await newAccount();
    const event = aTrackMessage({ event: 'Seat Added' }, accountId);
    await send('track', event);
    await waitFor(async () => (await storedEvent(accountId, event.event.messageId))?.reason === 'no_rule', { what: 'the unmapped event' });

    // The rules service has version 2 (Redis still holds 1): usage must ask for it.
    rules.snapshots.set(accountId, aSnapshot({ accountId, version: 2, rules: [{ id: 'rule-seat', featureId: 'messages', eventName: 'Seat Added', conditions: [] }] }));
    await send('reprocess', aReprocessMessage(event, 2, 'job-7'));
    const outcomes = await readTopic(codec, 'reprocessed', (all) => all.some((m) => m.value.accountId === accountId));
    expect(outcomes.find((m) => m.value.accountId === accountId)!.value.verdicts).toEqual([{ jobId: 'job-7', mapped: true, rulesVersion: 2, messageId: event.event.messageId }]);
    expect(await storedEvent(accountId, event.event.messageId)).toEqual({ outcome: 'mapped', reason: null });
    expect(await totals(accountId)).toEqual([{ userId: 'user-1', featureId: 'messages', total: 1 }]);
  });

  it('re-points totals to the survivor of a merge, for past and later usage', async () => {
    const accountId = await newAccount();
    await send('track', aTrackMessage({ userId: 'guest' }, accountId), aTrackMessage({ userId: 'member' }, accountId));
    await waitFor(async () => (await totals(accountId)).length === 2, { what: 'usage of both users' });

    const merge: IdentityChange = {
      schemaVersion: 1,
      accountId,
      kind: 'merged',
      user: { id: 'k-member', userId: 'member' },
      from: { id: 'k-guest', userId: 'guest' },
      at: new Date().toISOString(),
    };
    await producer.send(topics.identityChanges, [{ key: userKey(accountId, 'member'), value: await codec.encode('identityChanges', merge) }]);
    await waitFor(async () => (await totals(accountId)).length === 1, { what: 'the merge' });
    const later = aTrackMessage({ userId: 'guest' }, accountId);
    await send('track', later);
    await waitFor(async () => (await totals(accountId))[0]?.total === 3, { what: 'usage after the merge' });
    expect(await totals(accountId, '?userId=member')).toEqual([{ userId: 'member', featureId: 'messages', total: 3 }]);
    const records = await readTopic(codec, 'usageRecords', (all) => all.some((m) => m.value.messageId === later.event.messageId));
    expect(records.find((m) => m.value.messageId === later.event.messageId)!.value.userId).toBe('member');
  });

  it('counts a batch replayed after a crash between the Postgres commit and the offset commit once', async () => {
    const accountId = await newAccount();
    const event = aTrackMessage({ properties: { channel: 'sms' } }, accountId);
    crashAfter = event.event.messageId;
    const crashed = service;
    await send('track', event);
    await waitFor(() => crashAfter === undefined, { what: 'the simulated crash' });
    await crashed.lifecycle.stop();

    await start();
    const replays = async () => {
      const metric = await service.metrics.getSingleMetric('kana_usage_events_total')!.get();
      return metric.values.find((v) => v.labels.source === 'track' && v.labels.outcome === 'duplicate')?.value ?? 0;
    };
    await waitFor(async () => (await replays()) >= 1, { what: 'the replayed batch' });
    expect(await totals(accountId)).toEqual([
      { userId: 'user-1', featureId: 'messages', total: 1 },
      { userId: 'user-1', featureId: 'sms', total: 1 },
    ]);
    const records = await readTopic(codec, 'usageRecords', (all) => all.filter((m) => m.value.messageId === event.event.messageId).length >= 4);
    const mine = records.filter((m) => m.value.messageId === event.event.messageId);
    expect(new Set(mine.map((m) => m.value.id)).size).toBe(2);
  });

  it('pages usage totals by user and feature, every pair exactly once', async () => {
    const accountId = await newAccount();
    // Users whose order differs between byte order and a linguistic collation ('B' < 'a' < 'b').
    const users = ['b-user', 'B-user', 'a-user'];
    for (const userId of users) await send('track', aTrackMessage({ userId, properties: { channel: 'sms', delta: 2 } }, accountId));
    await waitFor(async () => (await totals(accountId, '?limit=1000')).length === 6, { what: 'two totals for each of three users' });

    const pages: { userId: string; featureId: string; total: number }[][] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/v1/usage?limit=4${cursor ? `&cursor=${cursor}` : ''}`, accountId);
      expect(page.status).toBe(200);
      pages.push(page.body.data as { userId: string; featureId: string; total: number }[]);
      cursor = page.body.nextCursor as string | null;
    } while (cursor && pages.length < 5);

    expect(pages.map((page) => page.length)).toEqual([4, 2]);
    expect(pages.flat()).toEqual(
      ['B-user', 'a-user', 'b-user'].flatMap((userId) => [
        { userId, featureId: 'messages', total: 2 },
        { userId, featureId: 'sms', total: 2 },
      ]),
    );
    expect(await get('/v1/usage?cursor=zzz', accountId)).toEqual({ status: 400, body: { message: expect.stringContaining("'cursor'") } });
  });

  it('answers query errors with a message naming the field', async () => {
    expect(await get('/v1/usage')).toEqual({ status: 401, body: { message: expect.stringContaining('account') } });
    expect(await get('/v1/usage?from=yesterday', 'acc')).toEqual({ status: 400, body: { message: expect.stringContaining("'from'") } });
    expect(await get('/v1/usage/records?cursor=zzz', 'acc')).toEqual({ status: 400, body: { message: expect.stringContaining("'cursor'") } });
    const capped = await get('/v1/usage/records?limit=5000', 'acc');
    expect(capped).toEqual({ status: 200, body: { data: [], nextCursor: null } });
  });
});
