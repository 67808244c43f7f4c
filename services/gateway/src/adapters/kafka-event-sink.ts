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

  store(request: StoreRequest): Promise<void> {
    const byTopic: Record<'identify' | 'track', OutMessage[]> = { identify: [], track: [] };
    const envelope = { schemaVersion: SCHEMA_VERSION as typeof SCHEMA_VERSION, accountId: request.accountId, requestId: request.requestId, receivedAt: request.receivedAt };
    try {
      for (const event of request.events) {
        // Every event was parsed by segmentEvent (normalize.ts), the schema the registered JSON
        // Schema is derived from, and the envelope is ours: no second validation before encoding.
        const value = event.type === 'identify' ? this.deps.codec.encodeParsed('identify', { ...envelope, event }) : this.deps.codec.encodeParsed('track', { ...envelope, event });
        byTopic[event.type].push({ key: userKey(request.accountId, event.userId), value });
      }
    } catch (error) {
      // Schema ids are read at start (registerAll); failing here is our bug, not the sender's.
      return Promise.reject(new AppError('encode an accepted event', { code: 'KANA_GATEWAY_ENCODE', status: 500, cause: error }));
    }
    // Nearly every request holds one type: its one send, without a Promise.allSettled around it.
    if (byTopic.identify.length === 0 || byTopic.track.length === 0) {
      const type = byTopic.identify.length === 0 ? 'track' : 'identify';
      return this.deps.producer.send(this.deps.codec.topicName(type), byTopic[type]).catch(unavailable);
    }
    const sends = (['identify', 'track'] as const).map((type) => this.deps.producer.send(this.deps.codec.topicName(type), byTopic[type]));
    return Promise.allSettled(sends).then((results) => {
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed) unavailable(failed.reason);
    });
  }
}

function unavailable(cause: unknown): never {
  throw new UnavailableError('the events could not be stored (Kafka unavailable); retry later', cause);
}
