import { MAX_VERDICTS_PER_MESSAGE, SCHEMA_VERSION, userKey, type ReprocessVerdict, type ReprocessedMessage, type UnmappedMessage, type UsageRecord } from '@kana/schemas';
import type { PlannedEvent, StoredEvent } from './batch';

export interface BatchOutputs {
  usageRecords: UsageRecord[];
  unmapped: UnmappedMessage[];
  reprocessed: ReprocessedMessage[];
  /** The Kafka key of each reprocessed message, by index. */
  reprocessedKeys: string[];
}

/**
 * Outputs come from what Postgres holds, not from this batch's evaluation: a
 * replayed batch (crash after the commit, before the offset commit) or a
 * Segment retry of an event stored last week produces exactly what the first
 * delivery produced, even if the rules changed in between.
 *
 * Every stored record of every event of the batch is produced, not only those
 * inserted now: if the process died between the Postgres commit and the
 * produce, the replay finds the rows already there, and producing only new
 * rows would lose them for downstream. Record ids are deterministic, so a
 * consumer of kana.usage.records dedups the repeats by id.
 *
 * Live events that stay unmapped go to the rules service's unmapped store;
 * reprocessed events only report their outcome (the rules service already
 * holds them), which lets it count job progress and drop the mapped ones: the
 * verdicts of the batch travel together, one message per account (split at
 * MAX_VERDICTS_PER_MESSAGE), not one per event. They are keyed by the account's
 * first event of the batch, so a batch's verdicts share a partition (a batch
 * comes from one partition of kana.track.reprocess, whose keys are the same)
 * and reach the rules service together, in one of its transactions.
 */
export function buildOutputs(planned: PlannedEvent[], stored: StoredEvent[]): BatchOutputs {
  const outputs: BatchOutputs = { usageRecords: [], unmapped: [], reprocessed: [], reprocessedKeys: [] };
  const verdicts = new Map<string, { key: string; list: ReprocessVerdict[] }>();
  planned.forEach((event, index) => {
    const state = stored[index]!;
    const { message } = event;
    outputs.usageRecords.push(...state.records);
    if (event.source === 'reprocess') {
      let account = verdicts.get(message.accountId);
      if (!account) verdicts.set(message.accountId, (account = { key: userKey(message.accountId, message.event.userId), list: [] }));
      for (const jobId of event.jobIds) account.list.push({ jobId, messageId: message.event.messageId, mapped: state.mapped, rulesVersion: event.rulesVersion });
    } else if (!state.mapped) {
      outputs.unmapped.push({
        schemaVersion: SCHEMA_VERSION,
        accountId: message.accountId,
        requestId: message.requestId,
        receivedAt: message.receivedAt,
        // The stored time, so every delivery of the event lands on the same row of the rules service's store.
        event: state.eventTime === message.event.timestamp ? message.event : { ...message.event, timestamp: state.eventTime },
        reason: state.reason ?? 'no_rule',
        rulesVersion: state.rulesVersion,
        jobId: null,
      });
    }
  });
  for (const [accountId, { key, list }] of verdicts) {
    for (let start = 0; start < list.length; start += MAX_VERDICTS_PER_MESSAGE) {
      outputs.reprocessed.push({ schemaVersion: SCHEMA_VERSION, accountId, verdicts: list.slice(start, start + MAX_VERDICTS_PER_MESSAGE) });
      outputs.reprocessedKeys.push(key);
    }
  }
  return outputs;
}
