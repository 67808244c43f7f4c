import { histogram, type BatchHandler, type Logger, type Registry } from '@kana/platform';
import type { IdentifyMessage } from '@kana/schemas';
import type { OutboxRelay } from './adapters/outbox-relay';
import type { PgIdentityStore } from './adapters/pg-identify-store';
import type { IdentifyInput } from './domain/user';

/**
 * One fetched batch of kana.segment.identify: apply it in one transaction
 * (which also writes its changes to the outbox), then produce those changes
 * from memory, then (BatchConsumer) commit the offsets.
 * A crash after the transaction replays the batch: last writer wins (strict on
 * ties) makes the replay write nothing, and its transaction takes over the
 * outbox row the crashed one left for this partition, so the changes are
 * produced then, before any later change of the partition.
 */
export function identifyBatchHandler(deps: { store: PgIdentityStore; relay: OutboxRelay; logger: Logger; metrics: Registry }): BatchHandler<IdentifyMessage> {
  const size = histogram(deps.metrics, {
    name: 'kana_identity_batch_messages', help: 'Identify messages per applied batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  });
  const seconds = histogram(deps.metrics, {
    name: 'kana_identity_batch_seconds', help: 'Time to apply one batch and produce its changes', labelNames: ['step'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  return async function handleIdentifyBatch(messages, { partition }) {
    size.observe(messages.length);
    const inputs: IdentifyInput[] = messages.map(({ value }) => ({
      accountId: value.accountId,
      messageId: value.event.messageId,
      userId: value.event.userId,
      timestamp: value.event.timestamp,
      traits: value.event.traits,
    }));
    const applying = seconds.startTimer({ step: 'apply' });
    const { applied, skipped, outbox } = await deps.store.applyBatch(inputs, `identify:${partition}`);
    applying();
    const producing = seconds.startTimer({ step: 'produce' });
    await deps.relay.publish(outbox);
    producing();
    deps.logger.debug({ partition, applied, skipped, changes: outbox?.changes.length ?? 0 }, 'identify batch applied');
  };
}
