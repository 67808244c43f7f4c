import { baseEnv, loadConfig } from '@kana/platform';
import { z } from 'zod';

export const rulesEnv = z.object({
  ...baseEnv,
  PORT: z.coerce.number().int().min(0).max(65535).default(8093),
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case Postgres schema name').default('rules'),
  /** Events republished per page of a reprocess job (one produce request, one cursor update). */
  REPROCESS_PAGE_SIZE: z.coerce.number().int().min(1).max(20_000).default(2_000),
  /** How often an idle worker looks for jobs started by another instance (its own changes wake it at once). */
  REPROCESS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
  REPROCESS_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /** Stored events scanned per query when previewing a draft rule. */
  PREVIEW_PAGE_SIZE: z.coerce.number().int().min(100).max(50_000).default(5_000),
});

export type RulesConfig = z.infer<typeof rulesEnv>;

export function readConfig(env: NodeJS.ProcessEnv = process.env): RulesConfig {
  return loadConfig(rulesEnv, env);
}
