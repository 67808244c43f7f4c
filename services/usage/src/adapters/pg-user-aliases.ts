import type { IdentityChange } from '@kana/schemas';
import { inTransaction, type Pool } from '@kana/platform';
import { resolveAliases } from '../domain/aliases';

/** Advisory lock class: one recomputation of an account's aliases at a time, across instances. */
const LOCK_CLASS = 7_315_002;

/**
 * Follows merges announced by identity: the merged-away userId becomes an
 * alias of the survivor. New usage of the alias is written for the survivor
 * (see PgUsageStore.insertRecords) and queries count the alias's older usage
 * toward the survivor. Stored rows are never rewritten: a merge is one small
 * write however much usage the user had.
 *
 * Each merge is logged (user_merges, idempotent) and the account's aliases
 * are recomputed from its whole log (resolveAliases), so merges may arrive in
 * any order: a merge's change is keyed by its survivor, and A->B and a later
 * B->C travel on different partitions. Merges are rare; an account's log is
 * small. Concurrent batches (partitions, instances) recompute one account
 * after the other, each reading the log once the lock is held, so the last
 * one to commit has seen every merge committed before it and its own.
 *
 * Only merges matter to usage. Created and updated users change nothing
 * (usage counts any userId, identified or not), and a deleted user's usage
 * stays: recorded usage is billing history, and deleting a user from the
 * list is not a refund (README, "usage").
 */
export class PgUserAliases {
  constructor(private readonly deps: { pool: Pool }) {}

  async applyMerges(changes: IdentityChange[]): Promise<number> {
    const merges = changes.filter((change) => change.kind === 'merged' && change.from?.userId && change.user.userId && change.from.userId !== change.user.userId);
    if (merges.length === 0) return 0;
    await inTransaction(this.deps.pool, async (client) => {
      await client.query(
        `INSERT INTO user_merges (account_id, from_user_id, into_user_id, merged_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
        [merges.map((m) => m.accountId), merges.map((m) => m.from!.userId!), merges.map((m) => m.user.userId!), merges.map((m) => m.at)],
      );
      // Sorted, so two batches lock the accounts they share in the same order.
      for (const accountId of [...new Set(merges.map((m) => m.accountId))].sort()) {
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, accountId]);
        const { rows } = await client.query<{ from_user_id: string; into_user_id: string; at: number }>(
          'SELECT from_user_id, into_user_id, (extract(epoch FROM merged_at) * 1000)::float8 AS at FROM user_merges WHERE account_id = $1',
          [accountId],
        );
        const aliases = resolveAliases(rows.map((row) => ({ from: row.from_user_id, into: row.into_user_id, at: row.at })));
        await client.query('DELETE FROM user_aliases WHERE account_id = $1', [accountId]);
        await client.query(
          `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at)
           SELECT $1, user_id, survivor, to_timestamp(at / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[]) AS a(user_id, survivor, at)`,
          [accountId, [...aliases.keys()], [...aliases.values()].map((a) => a.survivor), [...aliases.values()].map((a) => a.mergedAt)],
        );
      }
    });
    return merges.length;
  }
}
