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
  /** Pages of one job being sent at once (read ahead while earlier ones await their acks); a crash re-sends at most this many. */
  REPROCESS_PAGES_IN_FLIGHT: z.coerce.number().int().min(1).max(32).default(4),
  /** Produce requests the walker keeps in flight (each its own idempotent producer; order across them does not matter for replays). */
  REPROCESS_PRODUCER_LANES: z.coerce.number().int().min(1).max(16).default(3),
  /**
   * A walked job still missing verdicts (usage dead-lettered an event, or
   * collapsed two jobs' copies of one message in a batch) ends done once no
   * verdict arrived for this long. Longer than usage's worst pause between
   * two batches, shorter than what a user watching the job would wait.
   */
  REPROCESS_SETTLE_MS: z.coerce.number().int().min(100).max(3_600_000).default(120_000),
  /** Stored events scanned per query when previewing a draft rule. */
  PREVIEW_PAGE_SIZE: z.coerce.number().int().min(100).max(50_000).default(5_000),
  /** A preview answers with what it counted so far (complete: false) once this passed: under the gateway's ADMIN_TIMEOUT_MS (10 s). */
  PREVIEW_DEADLINE_MS: z.coerce.number().int().min(100).max(600_000).default(7_000),
});

export type RulesConfig = z.infer<typeof rulesEnv>;

export function readConfig(env: NodeJS.ProcessEnv = process.env): RulesConfig {
  return loadConfig(rulesEnv, env);
}
