import { join } from 'node:path';
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
  type FastifyInstance,
  type Logger,
  type Pool,
  type Redis,
} from '@kana/platform';
import { EventCodec, topicNames } from '@kana/schemas';
import { ensureMonthlyPartitions } from './adapters/pg-unmapped-store';
import { RedisSnapshotStore } from './adapters/redis-snapshot-store';
import { ChangeService } from './changes';
import type { RulesConfig } from './config';
import { reprocessedHandler } from './consumers/reprocessed';
import { unmappedHandler } from './consumers/unmapped';
import { PreviewService } from './preview';
import { eventRoutes } from './routes/events';
import { featureRoutes } from './routes/features';
import { internalRoutes } from './routes/internal';
import { ruleRoutes } from './routes/rules';
import { SnapshotPublisher } from './snapshots';
import { ReprocessWorker } from './worker/reprocess-worker';

export interface RulesApp {
  lifecycle: Lifecycle;
  http: FastifyInstance;
  pool: Pool;
  redis: Redis;
  codec: EventCodec;
  worker: ReprocessWorker;
  snapshotStore: RedisSnapshotStore;
}

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

/**
 * Composition root. Start order: Postgres (migrations, partitions) → Redis →
 * topics and schemas → producer → reprocess worker → consumers → HTTP;
 * stop is the reverse, so HTTP stops taking changes first and the producer
 * outlives everything that sends through it.
 */
export function build(config: RulesConfig, deps: { logger: Logger; listen?: boolean }): RulesApp {
  const { logger } = deps;
  const lifecycle = new Lifecycle(logger);
  const metrics = createMetrics('rules');
  const topics = topicNames(config.TOPIC_PREFIX);
  const pool = createPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA });
  // An idle client whose connection Postgres closed (restart, failover) emits
  // 'error' on the pool; without a listener that would crash the process.
  pool.on('error', (error) => logger.warn({ err: error, component: 'postgres' }, 'idle Postgres connection lost'));
  const redis = createRedis({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX, logger });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kana-rules', logger });
  const codec = EventCodec.connect(config.SCHEMA_REGISTRY_URL, topics);
  const producer = new CoalescingProducer({ lingerMs: 2, ackTimeoutMs: 10_000 }, { kafka, logger, metrics });

  const snapshotStore = new RedisSnapshotStore(redis);
  const snapshots = new SnapshotPublisher({ pool, store: snapshotStore, logger });
  const changes = new ChangeService({ pool, snapshots });
  const preview = new PreviewService({ pageSize: config.PREVIEW_PAGE_SIZE, deadlineMs: config.PREVIEW_DEADLINE_MS }, { pool });
  // The walker's own producer: several requests in flight (lanes) so pages
  // are acknowledged side by side, without delaying the consumers' sends.
  const walkerProducer = new CoalescingProducer(
    {
      lanes: config.REPROCESS_PRODUCER_LANES,
      ackTimeoutMs: 30_000,
      maxQueuedMessages: config.REPROCESS_PAGE_SIZE * config.REPROCESS_PAGES_IN_FLIGHT * config.REPROCESS_CONCURRENCY + 1,
    },
    { kafka, logger, metrics },
  );
  const worker = new ReprocessWorker(
    {
      pageSize: config.REPROCESS_PAGE_SIZE,
      pollMs: config.REPROCESS_POLL_MS,
      concurrency: config.REPROCESS_CONCURRENCY,
      pagesInFlight: config.REPROCESS_PAGES_IN_FLIGHT,
      settleMs: config.REPROCESS_SETTLE_MS,
    },
    { pool, producer: walkerProducer, codec, snapshots, logger },
  );
  const consumerDeps = { kafka, codec, producer, logger, metrics };
  const group = (name: string) => `${config.TOPIC_PREFIX}kana-rules.${name}`;
  const unmapped = new BatchConsumer({ groupId: group('unmapped'), topic: 'unmapped' }, consumerDeps, unmappedHandler({ pool, producer, codec }));
  const reprocessed = new BatchConsumer({ groupId: group('reprocessed'), topic: 'reprocessed' }, consumerDeps, reprocessedHandler({ pool, metrics }));

  const http = createHttpServer({ logger, metrics, ready: () => unmapped.healthy() && reprocessed.healthy() });
  const onChange = () => worker.nudge();
  featureRoutes(http, { pool, changes, onChange });
  ruleRoutes(http, { pool, changes, preview, onChange });
  eventRoutes(http, { pool });
  internalRoutes(http, { snapshots });

  lifecycle.add({
    name: 'postgres',
    start: async () => {
      await migrate(pool, { schema: config.DATABASE_SCHEMA, dir: MIGRATIONS_DIR, logger });
      await ensureMonthlyPartitions(pool, new Date(), 24, 3, (name, error) => logger.warn({ err: error, partition: name }, 'monthly partition not created; its rows stay in the default partition'));
    },
    stop: () => pool.end(),
  });
  lifecycle.add({ name: 'redis', start: () => redis.connect(), stop: async () => void (await redis.quit().catch(() => redis.disconnect())) });
  lifecycle.add({
    name: 'topics',
    start: async () => {
      await ensureTopics(kafka, topics, config.KAFKA_PARTITIONS);
      await codec.registerAll();
    },
    stop: async () => undefined,
  });
  lifecycle.add(producer);
  lifecycle.add({ name: 'walker-producer', start: () => walkerProducer.start(), stop: () => walkerProducer.stop() });
  lifecycle.add(worker);
  lifecycle.add(concurrently('consumers', [unmapped, reprocessed]));
  lifecycle.add({
    name: 'http',
    start: async () => {
      if (deps.listen ?? true) await http.listen({ host: '0.0.0.0', port: config.PORT });
      else await http.ready();
    },
    stop: () => http.close(),
  });
  return { lifecycle, http, pool, redis, codec, worker, snapshotStore };
}
