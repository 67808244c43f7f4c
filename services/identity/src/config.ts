import { z } from 'zod';
import { baseEnv, loadConfig } from '@kana/platform';

export const identityEnv = z.object({
  ...baseEnv,
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case Postgres identifier').default('identity'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8091),
  HOST: z.string().default('0.0.0.0'),
  /** Consumer group of kana.segment.identify; instances sharing it split the partitions. */
  CONSUMER_GROUP: z.string().min(1).default('identity'),
  OUTBOX_SWEEP_MS: z.coerce.number().int().min(100).default(5_000),
  /** Outbox rows older than this are produced by the sweep (younger ones are being produced by their writer). */
  OUTBOX_SWEEP_AFTER_MS: z.coerce.number().int().min(0).default(60_000),
});

export type IdentityConfig = z.infer<typeof identityEnv>;

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityEnv, env);
}
