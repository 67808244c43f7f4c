import { z } from 'zod';
import { baseEnv, loadConfig } from '@kana/platform';

export const usageEnv = z.object({
  ...baseEnv,
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case Postgres identifier').default('usage'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8092),
  RULES_URL: z.url(),
  RULES_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
  /** Partitions of one topic handled at the same time by this instance. */
  CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(6),
  /** Produce requests in flight at once for the outputs (each lane its own idempotent producer). */
  PRODUCER_LANES: z.coerce.number().int().min(1).max(16).default(4),
});

export type UsageConfig = z.infer<typeof usageEnv>;

export function readConfig(env: NodeJS.ProcessEnv = process.env): UsageConfig {
  return loadConfig(usageEnv, env);
}
