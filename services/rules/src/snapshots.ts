import { UnavailableError, type Logger, type Pool } from '@kana/platform';
import type { RulesSnapshot } from '@kana/schemas';
import { loadSnapshot } from './adapters/pg-catalog';
import { dbError } from './adapters/pg-errors';
import type { RedisSnapshotStore } from './adapters/redis-snapshot-store';

/**
 * Postgres is the truth, Redis a cache usage reads. Publishing always reads
 * the current snapshot from Postgres and compare-and-sets it, so concurrent
 * publishers converge on the newest version whatever order they finish in.
 */
export class SnapshotPublisher {
  constructor(private readonly deps: { pool: Pool; store: RedisSnapshotStore; logger: Logger }) {}

  async publish(accountId: string): Promise<RulesSnapshot> {
    const snapshot = await loadSnapshot(this.deps.pool, accountId).catch((error: unknown) => {
      throw dbError('load rules snapshot', error);
    });
    // An account without rules is cached too (version 0, empty lists):
    // otherwise every one of its events would be a cache miss and an HTTP call.
    await this.deps.store.write(snapshot).catch((error: unknown) => {
      throw new UnavailableError(`write rules snapshot to Redis: ${(error as Error).message}`, error);
    });
    return snapshot;
  }

  /**
   * After a committed change. A Redis failure is not the client's problem:
   * the change is committed and its reprocess job publishes the snapshot
   * again before it sends anything, and usage reseeds on a miss or when a
   * reprocessed event needs a newer version.
   */
  async publishAfterChange(accountId: string): Promise<void> {
    try {
      await this.publish(accountId);
    } catch (error) {
      this.deps.logger.warn({ err: error, accountId }, 'rules snapshot not written to Redis; the reprocess job will retry');
    }
  }
}
