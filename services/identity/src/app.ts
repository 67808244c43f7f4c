import { join } from 'node:path';
import {
  BatchConsumer, CoalescingProducer, createHttpServer, createKafka, createLogger, createMetrics, createPool, ensureTopics,
  Lifecycle, migrate, type FastifyInstance, type Logger, type Pool, type Registry,
} from '@kana/platform';
import { EventCodec, topicNames } from '@kana/schemas';
import { OutboxRelay } from './adapters/outbox-relay';
import { PgAdminStore } from './adapters/pg-admin-store';
import { PgIdentityStore } from './adapters/pg-identify-store';
import type { IdentityConfig } from './config';
import { identifyBatchHandler } from './consumer';
import { usersRoutes } from './routes/users';

export interface IdentityApp {
  lifecycle: Lifecycle;
  http: FastifyInstance;
  pool: Pool;
  store: PgIdentityStore;
  admin: PgAdminStore;
  relay: OutboxRelay;
  codec: EventCodec;
  logger: Logger;
}

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

/** Composition root: builds every component; nothing connects until lifecycle.start(). */
export function buildIdentity(config: IdentityConfig, overrides: { logger?: Logger; metrics?: Registry } = {}): IdentityApp {
  const logger = overrides.logger ?? createLogger({ name: 'identity', level: config.LOG_LEVEL });
  const metrics = overrides.metrics ?? createMetrics('identity');
  const topics = topicNames(config.TOPIC_PREFIX);
  const lifecycle = new Lifecycle(logger);

  const pool = createPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'identity', logger });
  const codec = EventCodec.connect(config.SCHEMA_REGISTRY_URL, topics);
  const producer = new CoalescingProducer({}, { kafka, logger, metrics });
  const store = new PgIdentityStore({ pool });
  const admin = new PgAdminStore({ pool });
  const relay = new OutboxRelay(
    { intervalMs: config.OUTBOX_SWEEP_MS, sweepAfterMs: config.OUTBOX_SWEEP_AFTER_MS },
    { pool, producer, codec, logger },
  );
  const consumer = new BatchConsumer(
    { groupId: `${config.TOPIC_PREFIX}${config.CONSUMER_GROUP}`, topic: 'identify' },
    { kafka, codec, producer, logger, metrics },
    identifyBatchHandler({ store, relay, metrics, logger: logger.child({ component: 'identify' }) }),
  );
  const http = createHttpServer({ logger, metrics, ready: () => consumer.healthy() });
  void http.register(usersRoutes, { admin, relay });

  // Start order: schema, topics and subjects → producer → relay → consumer → HTTP; stop is the reverse,
  // so the consumer finishes and commits its batch before the producer and the pool close.
  lifecycle.add({
    name: 'infrastructure',
    start: async () => {
      await migrate(pool, { schema: config.DATABASE_SCHEMA, dir: MIGRATIONS_DIR, logger });
      await ensureTopics(kafka, topics, config.KAFKA_PARTITIONS);
      await codec.registerAll();
    },
    stop: () => pool.end(),
  });
  lifecycle.add(producer);
  lifecycle.add(relay);
  lifecycle.add(consumer);
  lifecycle.add({
    name: 'http',
    start: async () => {
      await http.listen({ port: config.PORT, host: config.HOST });
    },
    stop: () => http.close(),
  });
  return { lifecycle, http, pool, store, admin, relay, codec, logger };
}
