import { histogram, inTransaction, type BatchHandler, type Pool, type Registry } from '@kana/platform';
import { verdictsOf, type ReprocessedMessage } from '@kana/schemas';
import { recordVerdicts, type Outcome } from '../adapters/pg-jobs';
import { dbError } from '../adapters/pg-errors';
import { deleteUnmapped } from '../adapters/pg-unmapped-store';

/**
 * Usage's verdict on each reprocessed event: the job's counters move once per
 * (job, event) and mapped events leave the unmapped store, in one transaction,
 * so a redelivered batch changes nothing.
 */
export function reprocessedHandler(deps: { pool: Pool; metrics: Registry }): BatchHandler<ReprocessedMessage> {
  const seconds = histogram(deps.metrics, {
    name: 'kana_rules_verdict_batch_seconds',
    help: "Recording one batch of usage's reprocess verdicts, by step: outcomes (items, progress), delete (unmapped rows), commit",
    labelNames: ['step'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  return async function recordReprocessed(messages) {
    const outcomes: Outcome[] = [];
    const mappedByAccount = new Map<string, string[]>();
    for (const { value } of messages) {
      let mapped = mappedByAccount.get(value.accountId);
      for (const verdict of verdictsOf(value)) {
        outcomes.push({ jobId: verdict.jobId, accountId: value.accountId, messageId: verdict.messageId, mapped: verdict.mapped });
        if (!verdict.mapped) continue;
        if (!mapped) mappedByAccount.set(value.accountId, (mapped = []));
        mapped.push(verdict.messageId);
      }
    }
    let timer = seconds.startTimer({ step: 'outcomes' });
    await inTransaction(deps.pool, async (tx) => {
      await recordVerdicts(tx, outcomes);
      timer();
      timer = seconds.startTimer({ step: 'delete' });
      for (const [accountId, messageIds] of [...mappedByAccount].sort(([a], [b]) => a.localeCompare(b))) {
        await deleteUnmapped(tx, accountId, messageIds);
      }
      timer();
      timer = seconds.startTimer({ step: 'commit' });
    })
      .catch((error: unknown) => {
        throw dbError('record reprocess outcomes', error);
      })
      .finally(() => timer());
  };
}
