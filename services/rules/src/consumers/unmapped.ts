import { inTransaction, type BatchHandler, type CoalescingProducer, type Pool } from '@kana/platform';
import { userKey, type EventCodec, type ReprocessMessage, type UnmappedMessage } from '@kana/schemas';
import { dbError } from '../adapters/pg-errors';
import { upsertUnmapped } from '../adapters/pg-unmapped-store';

/** jobId of events republished because their verdict arrived after a newer rules version: no job counts them. */
export const LATE_JOB_PREFIX = 'late:';

/**
 * Stores what usage could not map (idempotent by account + messageId).
 *
 * A verdict can arrive late: usage evaluated the event with version v, the
 * account changed to v+1, and the new version's job may already have walked
 * past the event's position. Such events are republished at once with the
 * current version. The account's version row is read FOR SHARE in the same
 * transaction as the insert, so a change either commits before (we see its
 * version and republish) or waits for our commit (its job then sees the row).
 *
 * Commit order: store (commit) → republish late ones → offsets committed by the
 * batch runner. A crash after the commit replays the batch: the upsert is a
 * no-op and the late ones are republished again (usage is idempotent).
 */
export function unmappedHandler(deps: { pool: Pool; producer: CoalescingProducer; codec: EventCodec }): BatchHandler<UnmappedMessage> {
  return async function storeUnmapped(messages) {
    const values = messages.map((message) => message.value);
    const late = await inTransaction(deps.pool, async (tx) => {
      const accounts = [...new Set(values.map((value) => value.accountId))].sort();
      await tx.query('INSERT INTO account_versions (account_id, version) SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING', [accounts]);
      const { rows } = await tx.query<{ account_id: string; version: string }>(
        'SELECT account_id, version FROM account_versions WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR SHARE',
        [accounts],
      );
      const current = new Map(rows.map((row) => [row.account_id, Number(row.version)]));
      await upsertUnmapped(tx, values);
      return values.flatMap((value) => {
        const version = current.get(value.accountId) ?? 0;
        return value.rulesVersion < version ? [{ value, version }] : [];
      });
    }).catch((error: unknown) => {
      throw dbError('store unmapped events', error);
    });
    if (late.length === 0) return;
    const out = await Promise.all(
      late.map(async ({ value, version }) => {
        const message: ReprocessMessage = {
          schemaVersion: value.schemaVersion,
          accountId: value.accountId,
          requestId: value.requestId,
          receivedAt: value.receivedAt,
          event: value.event,
          jobId: `${LATE_JOB_PREFIX}${version}`,
          minRulesVersion: version,
        };
        return { key: userKey(value.accountId, value.event.userId), value: await deps.codec.encode('reprocess', message) };
      }),
    );
    await deps.producer.send(deps.codec.topicName('reprocess'), out);
  };
}
