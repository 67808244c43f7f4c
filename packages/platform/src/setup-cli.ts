import { z } from 'zod';
import { EventCodec, topicNames } from '@kana/schemas';
import { baseEnv, ConfigError, loadConfig } from './config';
import { createKafka, ensureTopics } from './kafka/client';
import { createLogger } from './logger';

// One-shot set-up for a deployment (compose's `kana-setup`): creates the
// topics and registers every subject before the services start, so a
// production cluster can use a replication factor above 1. Each service does
// the same idempotently at start, which is what runs locally.

const setupEnv = z.object({
  KAFKA_BROKERS: baseEnv.KAFKA_BROKERS,
  SCHEMA_REGISTRY_URL: baseEnv.SCHEMA_REGISTRY_URL,
  TOPIC_PREFIX: baseEnv.TOPIC_PREFIX,
  KAFKA_PARTITIONS: baseEnv.KAFKA_PARTITIONS,
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(10).default(1),
  LOG_LEVEL: baseEnv.LOG_LEVEL,
});

async function main(): Promise<void> {
  const config = loadConfig(setupEnv);
  const logger = createLogger({ name: 'kana-setup', level: config.LOG_LEVEL });
  const topics = topicNames(config.TOPIC_PREFIX);
  await ensureTopics(createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'kana-setup', logger }), topics, config.KAFKA_PARTITIONS, config.KAFKA_REPLICATION_FACTOR);
  await EventCodec.connect(config.SCHEMA_REGISTRY_URL, topics).registerAll();
  logger.info({ topics: Object.values(topics) }, 'topics and registry subjects are in place');
}

main().catch((error: unknown) => {
  process.stderr.write(`kana-setup: ${error instanceof ConfigError ? error.message : (error as Error).stack}\n`);
  process.exitCode = 1;
});
