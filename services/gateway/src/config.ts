import { baseEnv, loadConfig } from '@kana/platform';
import { z } from 'zod';

// The gateway uses no Redis: its only state is accounts and keys in Postgres.
const { REDIS_URL: _redisUrl, REDIS_KEY_PREFIX: _redisPrefix, ...env } = baseEnv;

const schemaName = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case Postgres schema name').default('gateway');
const ms = (fallback: number, max: number) => z.coerce.number().int().min(0).max(max).default(fallback);

export const gatewayEnv = z.object({
  ...env,
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_SCHEMA: schemaName,
  IDENTITY_URL: z.url().default('http://127.0.0.1:8091'),
  RULES_URL: z.url().default('http://127.0.0.1:8093'),
  USAGE_URL: z.url().default('http://127.0.0.1:8092'),
  /** Segment gives up on a request after about 10 s: answer 503 well before that. */
  PRODUCE_ACK_TIMEOUT_MS: ms(5_000, 8_000),
  /**
   * How long the producer waits for more requests to share a produce request, when a lane is
   * free. Every request's answer waits for it, and with 64 connections the gateway is bound by
   * that wait, not by its CPU: 1 ms gave 0.54-0.63 of the bench's baseline where 2 ms gave
   * 0.41-0.54 (smaller produce requests, ~21 messages instead of ~30, cost the broker a little more;
   * BENCHMARKS.md, session 12).
   */
  PRODUCE_LINGER_MS: ms(1, 100),
  /**
   * Produce requests in flight at once (each lane its own idempotent producer).
   * Concurrent HTTP requests have no order between them, so the gateway loses
   * nothing by not keeping one across lanes.
   */
  PRODUCE_LANES: z.coerce.number().int().min(1).max(16).default(4),
  /** A revoked key keeps working at most this long. */
  KEY_CACHE_TTL_MS: ms(5_000, 60_000),
  /** While Postgres is down, keys seen this recently keep working. */
  KEY_CACHE_STALE_MS: ms(300_000, 3_600_000),
  ADMIN_TIMEOUT_MS: ms(10_000, 60_000),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

export function readConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(gatewayEnv, source);
}

/** The command line only needs the database; it defaults to the local stack's. */
export const cliEnv = z.object({
  DATABASE_URL: env.DATABASE_URL.default('postgres://postgres@127.0.0.1:5432/kana'),
  DATABASE_SCHEMA: schemaName,
});
export type CliConfig = z.infer<typeof cliEnv>;

export function readCliConfig(source: NodeJS.ProcessEnv = process.env): CliConfig {
  return loadConfig(cliEnv, source);
}

/** `kana dead-letters` reads Kafka only; it defaults to the local stack's broker. */
export const deadLettersEnv = z.object({
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092').pipe(env.KAFKA_BROKERS),
  TOPIC_PREFIX: env.TOPIC_PREFIX,
});

export function readDeadLettersConfig(source: NodeJS.ProcessEnv = process.env): z.infer<typeof deadLettersEnv> {
  return loadConfig(deadLettersEnv, source);
}
