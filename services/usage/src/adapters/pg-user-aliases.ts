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
 * idempotent) and the aliases they can change are recomputed from the log
 * (resolveAliases), so they may arrive in any order: a merge's change is
 * keyed by its survivor, and A->B and a later B->C travel on different
 * partitions. What a userId's alias is depends only on the merges and
 * deletions of the users it is connected to by merges (its component), so a
 * batch recomputes the components of the userIds it names, not the account:
 * a Stripe import that merges 40,000 customers into their users sends 40,000
 * merges, and each batch of them no longer reads and rewrites every alias of
 * the account. Concurrent batches (partitions, instances) recompute one
 * account after the other, each reading the log once the lock is held, so
 * the last one to commit has seen every change committed before it and its
 * own.
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
      const named = new Map<string, Set<string>>();
      const name = (accountId: string, userId: string) => (named.get(accountId) ?? named.set(accountId, new Set()).get(accountId)!).add(userId);
      for (const merge of merges) [merge.from!.userId!, merge.user.userId!].forEach((userId) => name(merge.accountId, userId));
      for (const deletion of deletions) name(deletion.accountId, deletion.user.userId!);
      // Sorted, so two batches lock the accounts they share in the same order.
      for (const accountId of [...named.keys()].sort()) await this.recompute(client, accountId, [...named.get(accountId)!]);
    });
    return merges.length + deletions.length;
  }

  /** Recomputes the aliases of the users connected by merges to `userIds` (theirs and no others). */
  private async recompute(client: PoolClient, accountId: string, userIds: string[]): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, accountId]);
    // The recursive walk's cost estimate is far above what it does (a few index probes a user), enough for
    // Postgres to compile it (JIT, ~100 ms here) on every batch.
    await client.query('SET LOCAL jit = off');
    const { rows: merges } = await client.query<{ from_user_id: string; into_user_id: string; at: number }>(
      // Lookups by one user at a time (LATERAL; OFFSET 0 keeps the last one from being joined as a whole),
      // through the primary key and user_merges_into, so that no plan reads the account's whole log whatever
      // the statistics say: a bulk of merges arrives before autovacuum has analyzed the table, and a join then
      // went through every merge for each user.
      `WITH RECURSIVE component(user_id) AS (
         SELECT unnest($2::text[])
         UNION
         SELECT n.user_id FROM component c CROSS JOIN LATERAL (
           SELECT m.into_user_id AS user_id FROM user_merges m WHERE m.account_id = $1 AND m.from_user_id = c.user_id
           UNION ALL
           SELECT m.from_user_id FROM user_merges m WHERE m.account_id = $1 AND m.into_user_id = c.user_id
         ) n
       )
       SELECT m.from_user_id, m.into_user_id, (extract(epoch FROM m.merged_at) * 1000)::float8 AS at
       FROM component c CROSS JOIN LATERAL (SELECT * FROM user_merges m WHERE m.account_id = $1 AND m.from_user_id = c.user_id OFFSET 0) m`,
      [accountId, userIds],
    );
    if (merges.length === 0) return; // none of them was ever merged: a deletion closes nothing
    const component = [...new Set(merges.flatMap((row) => [row.from_user_id, row.into_user_id]))];
    const { rows: deletions } = await client.query<{ user_id: string; at: number }>(
      'SELECT user_id, (extract(epoch FROM deleted_at) * 1000)::float8 AS at FROM user_deletions WHERE account_id = $1 AND user_id = ANY($2::text[])',
      [accountId, component],
    );
    const resolved = resolveAliases(
      merges.map((row) => ({ from: row.from_user_id, into: row.into_user_id, at: row.at })),
      deletions.map((row) => ({ user: row.user_id, at: row.at })),
    );
    const open = [...resolved].filter(([, alias]) => alias.closedAt === undefined);
    const closed = [...resolved].filter(([, alias]) => alias.closedAt !== undefined);
    await client.query('DELETE FROM user_aliases WHERE account_id = $1 AND user_id = ANY($2::text[])', [accountId, component]);
    await client.query(
      `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at)
       SELECT $1, user_id, survivor, to_timestamp(at / 1000.0) FROM unnest($2::text[], $3::text[], $4::float8[]) AS a(user_id, survivor, at)`,
      [accountId, open.map(([user]) => user), open.map(([, alias]) => alias.survivor), open.map(([, alias]) => alias.mergedAt)],
    );
    if (closed.length > 0) {
      // Only closures not rewritten before (closed_aliases): a later merge or deletion in the component finds them again.
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
