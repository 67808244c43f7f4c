import type { BatchHandler, Logger } from '@kana/platform';
import type { IdentifyMessage } from '@kana/schemas';
import type { OutboxRelay } from './adapters/outbox-relay';
import type { PgIdentityStore } from './adapters/pg-identify-store';
import type { IdentifyInput } from './domain/user';

/**
 * One fetched batch of kana.segment.identify: apply it in one transaction,
 * then produce its changes, then (BatchConsumer) commit the offsets.
 * A crash after the transaction replays the batch: every messageId is then
 * already processed and nothing changes twice; the changes wait in the outbox.
 */
export function identifyBatchHandler(deps: { store: PgIdentityStore; relay: OutboxRelay; logger: Logger }): BatchHandler<IdentifyMessage> {
  return async function handleIdentifyBatch(messages, { partition }) {
    const inputs: IdentifyInput[] = messages.map(({ value }) => ({
      accountId: value.accountId,
      messageId: value.event.messageId,
      userId: value.event.userId,
      timestamp: value.event.timestamp,
      traits: value.event.traits,
    }));
    const outcome = await deps.store.applyBatch(inputs);
    await deps.relay.flush();
    deps.logger.debug({ partition, ...outcome }, 'identify batch applied');
  };
}
