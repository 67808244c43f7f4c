import { AppError, type CoalescingProducer, type OutMessage, UnavailableError } from '@kana/platform';
import { type EventCodec, SCHEMA_VERSION, userKey } from '@kana/schemas';
import type { EventSink, StoreRequest } from '../ports';

/**
 * Stores events on `kana.segment.identify` / `kana.segment.track`, keyed
 * `accountId:userId` so each user's events stay in order, as registry-encoded
 * envelopes. Resolves only when every message of the request is acknowledged
 * with acks=all (the producer coalesces concurrent requests into few produce
 * requests). If one topic's write fails after the other's succeeded, the
 * request still fails: Segment resends all of it and consumers drop the
 * duplicates by (account, messageId).
 */
export class KafkaEventSink implements EventSink {
  constructor(private readonly deps: { producer: CoalescingProducer; codec: EventCodec }) {}

  async store(request: StoreRequest): Promise<void> {
    const byTopic: Record<'identify' | 'track', OutMessage[]> = { identify: [], track: [] };
    try {
      for (const event of request.events) {
        const envelope = { schemaVersion: SCHEMA_VERSION as typeof SCHEMA_VERSION, accountId: request.accountId, requestId: request.requestId, receivedAt: request.receivedAt };
        const value =
          event.type === 'identify'
            ? await this.deps.codec.encode('identify', { ...envelope, event })
            : await this.deps.codec.encode('track', { ...envelope, event });
        byTopic[event.type].push({ key: userKey(request.accountId, event.userId), value });
      }
    } catch (error) {
      // The registry lookup behind encode() can fail while the registry is
      // down; a value the schema refuses would be our bug, not the sender's.
      if ((error as Error).name === 'ConfluentSchemaRegistryValidationError') {
        throw new AppError('encode an accepted event', { code: 'KANA_GATEWAY_ENCODE', status: 500, cause: error });
      }
      throw new UnavailableError('the events could not be stored (schema registry unavailable); retry later', error);
    }
    const sends = (['identify', 'track'] as const)
      .filter((type) => byTopic[type].length > 0)
      .map((type) => this.deps.producer.send(this.deps.codec.topicName(type), byTopic[type]));
    const results = await Promise.allSettled(sends);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw new UnavailableError('the events could not be stored (Kafka unavailable); retry later', failed.reason);
  }
}
