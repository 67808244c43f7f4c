import { join } from 'node:path';
import {
  CoalescingProducer,
  Lifecycle,
  createKafka,
  createMetrics,
  createPool,
  ensureTopics,
  migrate,
  type FastifyInstance,
  type Logger,
  type Pool,
} from '@kana/platform';
import { EventCodec, topicNames } from '@kana/schemas';
import { KafkaEventSink } from './adapters/kafka-event-sink';
import { PgAccounts } from './adapters/pg-accounts';
import { KeyCache } from './auth/key-cache';
import type { GatewayConfig } from './config';
import { buildHttpApp } from './http-app';

export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface GatewayApp {
  lifecycle: Lifecycle;
  http: FastifyInstance;
  pool: Pool;
  accounts: PgAccounts;
  codec: EventCodec;
}

/**
 * Composition root. Start order: Postgres (migrations) → topics and schemas →
 * producer → HTTP. Stop is the reverse: HTTP stops accepting and finishes the
 * requests in flight, then the producer flushes what they sent, so no request
 * that was answered 200 lost its events and none in flight is cut off.
 */
export function build(config: GatewayConfig, deps: { logger: Logger; listen?: boolean }): GatewayApp {
  const { logger } = deps;
  const lifecycle = new Lifecycle(logger);
  const metrics = createMetrics('gateway');
  const topics = topicNames(config.TOPIC_PREFIX);
  const pool = createPool({ url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kana-gateway', logger });
  const codec = EventCodec.connect(config.SCHEMA_REGISTRY_URL, topics);
  const producer = new CoalescingProducer(
    { lingerMs: config.PRODUCE_LINGER_MS, ackTimeoutMs: config.PRODUCE_ACK_TIMEOUT_MS, lanes: config.PRODUCE_LANES },
    { kafka, logger, metrics },
  );
  const accounts = new PgAccounts(pool);
  const keys = new KeyCache({ ttlMs: config.KEY_CACHE_TTL_MS, staleIfErrorMs: config.KEY_CACHE_STALE_MS, maxEntries: 10_000 }, { store: accounts });

  let started = false;
  const http = buildHttpApp(
    {
      admin: {
        upstreams: { identity: config.IDENTITY_URL, rules: config.RULES_URL, usage: config.USAGE_URL },
        timeoutMs: config.ADMIN_TIMEOUT_MS,
        bodyLimit: 20 * 1024 * 1024,
      },
    },
    { logger, metrics, keys, sink: new KafkaEventSink({ producer, codec }), ready: () => started },
  );

  lifecycle.add({
    name: 'postgres',
    start: async () => void (await migrate(pool, { schema: config.DATABASE_SCHEMA, dir: MIGRATIONS_DIR, logger })),
    stop: () => pool.end(),
  });
  lifecycle.add({
    name: 'topics',
    start: async () => {
      await ensureTopics(kafka, topics, config.KAFKA_PARTITIONS);
      await codec.registerAll();
    },
    stop: async () => undefined,
  });
  lifecycle.add(producer);
  lifecycle.add({
    name: 'http',
    start: async () => {
      if (deps.listen ?? true) await http.listen({ host: '0.0.0.0', port: config.PORT });
      else await http.ready();
      started = true;
    },
    stop: async () => {
      started = false;
      await http.close();
    },
  });
  return { lifecycle, http, pool, accounts, codec };
}
