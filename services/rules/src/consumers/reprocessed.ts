import { inTransaction, type BatchHandler, type Pool } from '@kana/platform';
import type { ReprocessedMessage } from '@kana/schemas';
import { recordOutcomes } from '../adapters/pg-jobs';
import { dbError } from '../adapters/pg-errors';
import { deleteUnmapped } from '../adapters/pg-unmapped-store';

/**
 * Usage's verdict on each reprocessed event: the job's counters move once per
 * (job, event) and mapped events leave the unmapped store, in one transaction,
 * so a redelivered batch changes nothing.
 */
export function reprocessedHandler(deps: { pool: Pool }): BatchHandler<ReprocessedMessage> {
  return async function recordReprocessed(messages) {
    const values = messages.map((message) => message.value);
    const mappedByAccount = new Map<string, string[]>();
    for (const value of values) {
      if (!value.mapped) continue;
      const list = mappedByAccount.get(value.accountId) ?? [];
      list.push(value.messageId);
      mappedByAccount.set(value.accountId, list);
    }
    await inTransaction(deps.pool, async (tx) => {
      await recordOutcomes(
        tx,
        values.map((value) => ({ jobId: value.jobId, accountId: value.accountId, messageId: value.messageId, mapped: value.mapped })),
      );
      for (const [accountId, messageIds] of [...mappedByAccount].sort(([a], [b]) => a.localeCompare(b))) {
        await deleteUnmapped(tx, accountId, messageIds);
      }
    }).catch((error: unknown) => {
      throw dbError('record reprocess outcomes', error);
    });
  };
}
