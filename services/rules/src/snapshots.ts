import type { Logger, Pool } from '@kana/platform';
import type { RulesSnapshot } from '@kana/schemas';
import { loadSnapshot } from './adapters/pg-catalog';
import { dbError } from './adapters/pg-errors';
import type { RedisSnapshotStore } from './adapters/redis-snapshot-store';

/**
 * Postgres is the truth, Redis a cache usage reads. Publishing always reads
 * the current snapshot from Postgres and compare-and-sets it, so concurrent
 * publishers converge on the newest version whatever order they finish in.
 *
 * A Redis failure never fails a caller: the snapshot is still the truth read
 * from Postgres (usage's cache miss gets it over HTTP while Redis is down,
 * and keeps mapping), and account_versions.published_version stays behind,
 * so the reprocess worker's sweep writes it again (republishPending).
 */
export class SnapshotPublisher {
  constructor(private readonly deps: { pool: Pool; store: RedisSnapshotStore; logger: Logger }) {}

  /** The current snapshot, written to Redis on the way when Redis can be reached. */
  async publish(accountId: string): Promise<RulesSnapshot> {
    const snapshot = await loadSnapshot(this.deps.pool, accountId).catch((error: unknown) => {
      throw dbError('load rules snapshot', error);
    });
    // An account without rules is cached too (version 0, empty lists):
    // otherwise every one of its events would be a cache miss and an HTTP call.
    try {
      await this.deps.store.write(snapshot);
    } catch (error) {
      this.deps.logger.warn({ err: error, accountId, version: snapshot.version }, 'rules snapshot not written to Redis; the sweep writes it again');
      return snapshot;
    }
    if (snapshot.version > 0) {
      // Redis now holds this version or a newer one (compare-and-set).
      await this.deps.pool
        .query('UPDATE account_versions SET published_version = $2 WHERE account_id = $1 AND published_version < $2', [accountId, snapshot.version])
        .catch((error: unknown) => this.deps.logger.warn({ err: error, accountId }, 'could not record the published rules version; the sweep writes it again'));
    }
    return snapshot;
  }

  /** After a committed change: see publish (a Redis failure is the sweep's to repair, not the client's). */
  async publishAfterChange(accountId: string): Promise<void> {
    await this.publish(accountId).catch((error: unknown) => this.deps.logger.warn({ err: error, accountId }, 'rules snapshot not published; the sweep writes it again'));
  }

  /** Writes the snapshots of accounts whose version is ahead of what Redis was given; how many were. */
  async republishPending(limit: number): Promise<number> {
    const { rows } = await this.deps.pool.query<{ account_id: string }>(
      'SELECT account_id FROM account_versions WHERE version > published_version ORDER BY account_id LIMIT $1',
      [limit],
    );
    for (const { account_id: accountId } of rows) await this.publish(accountId);
    return rows.length;
  }
}
