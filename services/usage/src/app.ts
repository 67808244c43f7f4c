import { join } from 'node:path';
import { EventCodec, topicNames } from '@kana/schemas';
import {
  BatchConsumer,
  CoalescingProducer,
  Lifecycle,
  concurrently,
  createHttpServer,
  createKafka,
  createMetrics,
  createPool,
  createRedis,
  ensureTopics,
  migrate,
  type BatchHandler,
  type BatchResult,
  type ConsumedMessage,
  type Logger,
} from '@kana/platform';
import type { UsageConfig } from './config';
import { ReplayShare, UsageHandlers } from './consumer';
import { HttpRulesClient } from './adapters/http-rules-client';
import { PgPartitionMaintenance } from './adapters/pg-partitions';
import { PgUsageStore } from './adapters/pg-usage-store';
import { PgUsageQueries } from './adapters/pg-usage-queries';
import { PgUserAliases } from './adapters/pg-user-aliases';
import { RuleSnapshots } from './adapters/redis-rule-snapshots';
import { usageRoutes } from './routes/usage-routes';

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

/**
 * Composition root. Start order: schema and topics, producer, then the
 * consumers, then HTTP; stop runs in reverse, so consumers finish and commit
 * their batch in flight before the producer and the pool close.
 *
 * One consumer group per topic: a replay of millions of reprocessed events
 * has its own group and its own partitions, so it never delays live traffic.
 */
export interface UsageDeps {
  logger: Logger;
  /** Tests only: runs around each batch handler, e.g. to crash between the Postgres commit and the offset commit. */
  interceptBatch?: (topic: string, messages: ConsumedMessage<unknown>[], handle: () => Promise<BatchResult>) => Promise<BatchResult>;
}

/** Bytes fetched per partition at a time (the platform's default): ~11,000 of the bench's track events. */
const FETCH_BYTES_PER_PARTITION = 4 * 1024 * 1024;
/** Under the broker's fetch.max.bytes (55 MB by default), which caps a fetch response anyway. */
const MAX_FETCH_BYTES = 48 * 1024 * 1024;

export function buildUsage(config: UsageConfig, deps: UsageDeps) {
  const { logger, interceptBatch } = deps;
  const metrics = createMetrics('usage');
  const topics = topicNames(config.TOPIC_PREFIX);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kana-usage', logger });
  const codec = EventCodec.connect(config.SCHEMA_REGISTRY_URL, topics);
  // One transaction per partition in flight on each of the two event topics, plus the queries.
  const pool = createPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, max: 2 * config.CONSUMER_CONCURRENCY + 4 });
  const redis = createRedis({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, logger });
  // Below the broker's default message.max.bytes (1 MB): one batch's outputs can be several MB, and a
  // produce request above the limit is refused every time, which would retry the batch forever.
  // Several requests in flight (lanes): a batch's outputs are thousands of messages, and one request at a time
  // made the produce step as long as the Postgres one. No order is lost: a partition's next batch starts only
  // after every output of the previous one was acknowledged, and consumers of the outputs dedup by id.
  // Queue and ack bounds fit every partition of both event topics in flight with a full batch's outputs each.
  const producer = new CoalescingProducer(
    { maxBatchBytes: 800_000, maxBatchMessages: 2_000, lanes: config.PRODUCER_LANES, ackTimeoutMs: 30_000, maxQueuedMessages: 500_000 },
    { kafka, logger, metrics },
  );
  const rules = new HttpRulesClient({ rulesUrl: config.RULES_URL, timeoutMs: config.RULES_TIMEOUT_MS });
  const snapshots = new RuleSnapshots({ redis, rules, logger: logger.child({ component: 'rule-snapshots' }), metrics });
  const store = new PgUsageStore({ pool });
  const aliases = new PgUserAliases({ pool });
  const share = new ReplayShare({ slots: config.CONSUMER_CONCURRENCY, liveQuietMs: 2_000 });
  const handlers = new UsageHandlers({ snapshots, store, aliases, producer, codec, logger, metrics, share });

  const consumerDeps = { kafka, codec, producer, logger, metrics };
  const around =
    <T>(topic: string, handler: BatchHandler<T>): BatchHandler<T> =>
    (messages, context) =>
      interceptBatch ? interceptBatch(topic, messages, () => handler(messages, context)) : handler(messages, context);
  const group = (name: string) => `${config.TOPIC_PREFIX}kana-usage.${name}`;
  const concurrency = config.CONSUMER_CONCURRENCY;
  // kafkajs fetches again only when every batch of the previous fetch is handled. With its default 10 MB a
  // fetch filled 2-3 of the 6 partitions in flight with a 4 MB batch, and the others sat out the round;
  // room for all of them keeps every slot busy (bench/usage: ~35k -> ~38-41k events/s).
  const liveFetch = { maxBytesPerPartition: FETCH_BYTES_PER_PARTITION, maxBytes: Math.min(MAX_FETCH_BYTES, concurrency * FETCH_BYTES_PER_PARTITION) };
  const consumers = [
    new BatchConsumer({ groupId: group('track'), topic: 'track', partitionsConsumedConcurrently: concurrency, ...liveFetch }, consumerDeps, around('track', handlers.onTrack)),
    // As many partitions as live; `share` lets a replay use only half of them while live traffic is handled.
    new BatchConsumer({ groupId: group('reprocess'), topic: 'reprocess', partitionsConsumedConcurrently: concurrency }, consumerDeps, around('reprocess', handlers.onReprocess)),
    new BatchConsumer({ groupId: group('identity'), topic: 'identityChanges' }, consumerDeps, around('identityChanges', handlers.onIdentityChanges)),
  ];

  const http = createHttpServer({ logger, metrics, ready: () => consumers.every((consumer) => consumer.healthy()) });
  void http.register(usageRoutes({ queries: new PgUsageQueries({ pool }) }));

  const lifecycle = new Lifecycle(logger);
  lifecycle.add({
    name: 'postgres',
    start: async () => void (await migrate(pool, { schema: config.DATABASE_SCHEMA, dir: MIGRATIONS_DIR, logger })),
    stop: () => pool.end(),
  });
  lifecycle.add(new PgPartitionMaintenance({ monthsAhead: 3 }, { pool, logger }));
  lifecycle.add({ name: 'redis', start: () => redis.connect(), stop: async () => void (await redis.quit().catch(() => redis.disconnect())) });
  lifecycle.add({
    name: 'kafka-setup',
    start: async () => {
      await ensureTopics(kafka, topics, config.KAFKA_PARTITIONS);
      await codec.registerAll();
    },
    stop: async () => undefined,
  });
  lifecycle.add(producer);
  // Side by side: each takes seconds to leave its group, and one after another made SIGTERM take ~11 s.
  lifecycle.add(concurrently('consumers', consumers));
  lifecycle.add({
    name: 'http',
    start: async () => void (await http.listen({ port: config.PORT, host: '0.0.0.0' })),
    stop: () => http.close(),
  });

  return { lifecycle, http, metrics, pool, redis, consumers, handlers };
}
