import type { IdentityChange } from '@kana/schemas';
import { inTransaction, type Pool, type PoolClient } from '@kana/platform';
import { resolveAliases } from '../domain/aliases';

/** Advisory lock class: one recomputation of an account's aliases at a time, across instances. */
const LOCK_CLASS = 7_315_002;

/**
 * Follows merges announced by identity: the merged-away userId becomes an
 * alias of the survivor. New usage of the alias is written for the survivor
 * (see PgUsageStore.insertRecords) and queries count the alias's older usage
 * toward the survivor. Stored rows are not rewritten for a merge: a merge is
 * one small write however much usage the user had.
 *
 * Each merge and each deletion is logged (user_merges, user_deletions;
 * idempotent) and the account's aliases are recomputed from its whole log
 * (resolveAliases), so they may arrive in any order: a merge's change is
 * keyed by its survivor, and A->B and a later B->C travel on different
 * partitions. Merges are rare; an account's log is small. Concurrent batches
 * (partitions, instances) recompute one account after the other, each
 * reading the log once the lock is held, so the last one to commit has seen
 * every change committed before it and its own.
 *
 * A deleted user's usage stays: recorded usage is billing history, and
 * deleting a user from the list is not a refund (README, "usage"). Deleting a
 * survivor closes the aliases into it: the merged-away userId's records from
 * before the deletion are rewritten to the deleted survivor, once per closure
 * (closed_aliases), and its later usage counts for itself,
 * as identity creates that user anew. Created and updated users change
 * nothing (usage counts any userId, identified or not).
 */
export class PgUserAliases {
  constructor(private readonly deps: { pool: Pool }) {}

  /** Applies the merges and deletions among `changes`; returns how many there were. */
  async applyChanges(changes: IdentityChange[]): Promise<number> {
    const merges = changes.filter((change) => change.kind === 'merged' && change.from?.userId && change.user.userId && change.from.userId !== change.user.userId);
    const deletions = changes.filter((change) => change.kind === 'deleted' && change.user.userId);
    if (merges.length === 0 && deletions.length === 0) return 0;
    await inTransaction(this.deps.pool, async (client) => {
      if (merges.length > 0) {
        await client.query(
          `INSERT INTO user_merges (account_id, from_user_id, into_user_id, merged_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
          [merges.map((m) => m.accountId), merges.map((m) => m.from!.userId!), merges.map((m) => m.user.userId!), merges.map((m) => m.at)],
        );
      }
      if (deletions.length > 0) {
        await client.query(
          `INSERT INTO user_deletions (account_id, user_id, deleted_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING`,
          [deletions.map((d) => d.accountId), deletions.map((d) => d.user.userId!), deletions.map((d) => d.at)],
        );
      }
      // Sorted, so two batches lock the accounts they share in the same order.
      for (const accountId of [...new Set([...merges, ...deletions].map((change) => change.accountId))].sort()) {
        await this.recompute(client, accountId);
      }
    });
    return merges.length + deletions.length;
  }

  private async recompute(client: PoolClient, accountId: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, accountId]);
    const { rows: merges } = await client.query<{ from_user_id: string; into_user_id: string; at: number }>(
      'SELECT from_user_id, into_user_id, (extract(epoch FROM merged_at) * 1000)::float8 AS at FROM user_merges WHERE account_id = $1',
      [accountId],
    );
    if (merges.length === 0) return; // nothing was ever merged: a deletion closes nothing
    const { rows: deletions } = await client.query<{ user_id: string; at: number }>(
      'SELECT user_id, (extract(epoch FROM deleted_at) * 1000)::float8 AS at FROM user_deletions WHERE account_id = $1',
      [accountId],
    );
    const resolved = resolveAliases(
      merges.map((row) => ({ from: row.from_user_id, into: row.into_user_id, at: row.at })),
      deletions.map((row) => ({ user: row.user_id, at: row.at })),
    );
    const open = [...resolved].filter(([, alias]) => alias.closedAt === undefined);
    const closed = [...resolved].filter(([, alias]) => alias.closedAt !== undefined);
    await client.query('DELETE FROM user_aliases WHERE account_id = $1', [accountId]);
    await client.query(
      `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at)
       SELECT $1, user_id, survivor, to_timestamp(at / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[]) AS a(user_id, survivor, at)`,
      [accountId, open.map(([user]) => user), open.map(([, alias]) => alias.survivor), open.map(([, alias]) => alias.mergedAt)],
    );
    if (closed.length > 0) {
      // Only closures not rewritten before (closed_aliases): a later merge or deletion of the account finds them again.
      await client.query(
        `WITH fresh AS (
           INSERT INTO closed_aliases (account_id, user_id, survivor_user_id, closed_at)
           SELECT $1, user_id, survivor, to_timestamp(closed_at / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[]) AS c(user_id, survivor, closed_at)
           ON CONFLICT DO NOTHING
           RETURNING user_id, survivor_user_id, closed_at
         )
         UPDATE usage_records r SET user_id = f.survivor_user_id
         FROM fresh f
         WHERE r.account_id = $1 AND r.user_id = f.user_id AND r.recorded_at < f.closed_at`,
        [accountId, closed.map(([user]) => user), closed.map(([, alias]) => alias.survivor), closed.map(([, alias]) => alias.closedAt)],
      );
    }
  }
}
