import type { IdentityChange } from '@kana/schemas';
import { inTransaction, type Pool } from '@kana/platform';

/**
 * Follows merges announced by identity: the merged-away userId becomes an
 * alias of the survivor. New usage of the alias is written for the survivor
 * (see PgUsageStore.insertRecords) and queries count the alias's older usage
 * toward the survivor. Stored rows are never rewritten: a merge is one small
 * write however much usage the user had.
 *
 * Merges are rare, so statements per merge are fine here; they run in batch
 * order in one transaction, and replaying the batch gives the same table.
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
      for (const change of merges) {
        const survivor = change.user.userId!;
        const mergedAway = change.from!.userId!;
        // The survivor is live now, whatever was merged before (a merge undone the other way round).
        await client.query('DELETE FROM user_aliases WHERE account_id = $1 AND user_id = $2', [change.accountId, survivor]);
        await client.query(
          `INSERT INTO user_aliases (account_id, user_id, survivor_user_id, merged_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (account_id, user_id) DO UPDATE SET survivor_user_id = EXCLUDED.survivor_user_id, merged_at = EXCLUDED.merged_at`,
          [change.accountId, mergedAway, survivor, change.at],
        );
        // Flatten chains: whatever had been merged into the merged-away user now belongs to the survivor.
        await client.query('UPDATE user_aliases SET survivor_user_id = $3 WHERE account_id = $1 AND survivor_user_id = $2', [change.accountId, mergedAway, survivor]);
      }
    });
    return merges.length;
  }
}
